"""What every `facetrust` command shares: errors as a stable code and a message (JSON under
--json) with a non-zero exit status, never a traceback; reports written as JSON; one committed
transaction on the configured database."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from facetrust.settings import get_settings

if TYPE_CHECKING:
    from pydantic import ValidationError

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 1


class CliError(Exception):
    def __init__(self, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra or {}


def emit_error(err: CliError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"code": err.code, "message": err.message, **err.extra}, ensure_ascii=False))
    else:
        click.echo(f"error [{err.code}]: {err.message}", err=True)


def settings_problem(err: ValidationError) -> CliError:
    """A refused setting, named as the environment variable that set it."""
    problems = "; ".join(
        f"FACETRUST_{'_'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}" for e in err.errors()
    )
    return CliError("settings_invalid", problems)


def run(as_json: bool, fn: Callable[[], int | None]) -> None:
    """Run a command body, mapping every failure to a code, a message and an exit status."""
    from pydantic import ValidationError

    from facetrust.biometrics.errors import BiometricError
    from facetrust.biometrics.modelfiles import ModelFileError
    from facetrust.security.keyproviders import KeyRotationUnavailable, KeyUnavailable

    try:
        status = fn() or 0
    except ValidationError as err:  # settings refused at start (e.g. an action count under its floor)
        emit_error(settings_problem(err), as_json)
        status = EXIT_INPUT_ERROR
    except CliError as err:
        emit_error(err, as_json)
        status = EXIT_INPUT_ERROR
    except BiometricError as err:
        body = err.as_dict()
        emit_error(CliError(body.pop("code"), body.pop("message"), body), as_json)
        status = EXIT_INPUT_ERROR
    except ModelFileError as err:
        emit_error(CliError(err.code, str(err)), as_json)
        status = EXIT_INPUT_ERROR
    except (KeyUnavailable, KeyRotationUnavailable) as err:  # the key file or the PKCS#11 token
        emit_error(CliError(err.code, str(err)), as_json)
        status = EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        status = 130
    except Exception as err:  # last resort: no traceback to the user
        from facetrust.tools.evaluation.sequences import DataFolderError  # evaluation inputs (lazy: heavy imports)

        if isinstance(err, DataFolderError):
            emit_error(CliError(err.code, str(err)), as_json)
            status = EXIT_INPUT_ERROR
        else:
            emit_error(CliError("internal_error", f"unexpected failure ({type(err).__name__})"), as_json)
            status = EXIT_INTERNAL_ERROR
    sys.exit(status)


def report_out(summary: str, report: dict, json_out: Path | None) -> int:
    """A report command's ending: the summary on stdout, the whole report where --json asked."""
    click.echo(summary)
    if json_out:
        write_json(json_out, report)
    return 0


def write_json(path: Path, report: dict) -> None:
    """Write a command's report where --json asked, creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_image(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise CliError("file_not_found", f"no such file: {path}") from None
    except IsADirectoryError:
        raise CliError("file_not_found", f"{path} is a directory, not an image file") from None
    except OSError as exc:
        raise CliError("file_unreadable", f"cannot read {path}: {exc.strerror}") from None


def in_transaction(work: Callable[[Any], Any]) -> Any:
    """Run ``work(session)`` in one committed transaction on the configured database."""
    from facetrust.store.db import make_engine, session_factory
    from facetrust.store.migrate import upgrade

    url = get_settings().resolved_database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            result = work(session)
            session.commit()
            return result
    finally:
        engine.dispose()
