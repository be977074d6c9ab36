"""Liveness: challenges, passive presentation-attack detection and replay defence."""
