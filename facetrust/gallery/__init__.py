"""The 1:N index of face-pay templates: who, among the people who switched face-pay on, this is."""
