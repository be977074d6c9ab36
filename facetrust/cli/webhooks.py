"""`facetrust webhooks ...`: a platform's endpoints, the delivery log, the dispatcher, a replay by an
operator, and a receiver to try a set-up with."""

from __future__ import annotations

import json

import click

from facetrust.cli.common import CliError, in_transaction, run
from facetrust.settings import get_settings


@click.group()
def webhooks() -> None:
    """Signed webhooks to the platforms' back ends (events, deliveries, replays)."""


def _domain(fn):  # noqa: ANN001, ANN202
    """A domain refusal as the CLI's code and message."""
    from facetrust.errors import DomainError

    def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except DomainError as err:
            raise CliError(str(err.code), err.message) from None

    return wrapped


@webhooks.command("add")
@click.argument("tenant_id")
@click.argument("url")
@click.option("--kind", "kinds", multiple=True, help="An event kind to send (repeat); default: every kind.")
def webhooks_add(tenant_id: str, url: str, kinds: tuple[str, ...]) -> None:
    """Add an endpoint for a platform and print its signing secret (shown once)."""

    def body() -> int:
        from facetrust.bootstrap import keyring
        from facetrust.webhooks import service

        ring = keyring(get_settings())
        endpoint, secret = in_transaction(
            _domain(lambda s: service.create_endpoint(s, ring, tenant_id, url, list(kinds) or None, "cli"))
        )
        click.echo(json.dumps({"endpoint_id": endpoint.id, "tenant_id": tenant_id, "url": url, "secret": secret}))
        return 0

    run(True, body)


@webhooks.command("list")
@click.argument("tenant_id")
def webhooks_list(tenant_id: str) -> None:
    """A platform's endpoints (never their secrets)."""

    def body() -> int:
        from facetrust.webhooks import service

        rows = in_transaction(
            lambda s: [
                {
                    "endpoint_id": e.id,
                    "url": e.url,
                    "kinds": json.loads(e.kinds) if e.kinds else None,
                    "status": e.status,
                }
                for e in service.endpoints(s, tenant_id)
            ]
        )
        click.echo(json.dumps(rows, indent=2))
        return 0

    run(True, body)


@webhooks.command("disable")
@click.argument("tenant_id")
@click.argument("endpoint_id")
def webhooks_disable(tenant_id: str, endpoint_id: str) -> None:
    """Stop sending to an endpoint."""

    def body() -> int:
        from facetrust.webhooks import service

        status = in_transaction(_domain(lambda s: service.disable_endpoint(s, tenant_id, endpoint_id, "cli").status))
        click.echo(json.dumps({"endpoint_id": endpoint_id, "status": status}))
        return 0

    run(True, body)


@webhooks.command("log")
@click.option("--tenant", "tenant_id", default=None, help="One platform's deliveries (default: all).")
@click.option("--status", default=None, type=click.Choice(["pending", "delivering", "delivered", "dead"]))
@click.option("--limit", default=50, show_default=True)
def webhooks_log(tenant_id: str | None, status: str | None, limit: int) -> None:
    """The delivery log, newest first, with every attempt."""

    def body() -> int:
        from facetrust.webhooks import service
        from facetrust.webhooks.schemas import DeliveryOut

        rows = in_transaction(
            lambda s: [
                DeliveryOut.of(v).model_dump(mode="json") for v in service.deliveries(s, tenant_id, status, limit)
            ]
        )
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0

    run(True, body)


@webhooks.command("replay")
@click.argument("delivery_id")
@click.option("--operator", "operator_name", required=True, help="Who asks (audited as operator:NAME).")
@click.option("--reason", required=True, help="Why (audited).")
def webhooks_replay(delivery_id: str, operator_name: str, reason: str) -> None:
    """Send a delivery's event again (the same event id), as a new delivery; audited."""

    def body() -> int:
        from facetrust.webhooks import service

        again = in_transaction(
            _domain(lambda s: service.replay(s, None, delivery_id, f"operator:{operator_name}", reason).id)
        )
        click.echo(json.dumps({"replay_of": delivery_id, "delivery_id": again}))
        return 0

    run(True, body)


@webhooks.command("deliver")
@click.option("--once", is_flag=True, help="Send what is due now (and scan for overdue installments), then stop.")
def webhooks_deliver(once: bool) -> None:
    """Run the dispatcher (as the service does in each process) until interrupted, or once."""

    def body() -> int:
        import datetime as dt
        import time

        from facetrust import bootstrap
        from facetrust.store.db import make_engine, session_factory
        from facetrust.store.migrate import upgrade

        settings = get_settings()
        url = settings.resolved_database_url
        upgrade(url)
        engine = make_engine(url)
        offset = dt.timezone(dt.timedelta(hours=settings.credit_day_utc_offset_hours))
        dispatcher = bootstrap.webhook_dispatcher(
            settings, session_factory(engine), bootstrap.keyring(settings), lambda: dt.datetime.now(offset).date()
        )
        try:
            if once:
                found = dispatcher.scan()
                sent = 0
                while (n := dispatcher.run_once()) > 0:
                    sent += n
                click.echo(json.dumps({"overdue_found": found, "attempts": sent}))
                return 0
            dispatcher.start()
            while True:
                time.sleep(3600)
        finally:
            dispatcher.stop()
            engine.dispose()

    run(True, body)


@webhooks.command("receiver")
@click.option("--port", default=8900, show_default=True)
@click.option("--secret", required=True, help="The endpoint's secret, to verify signatures with.")
def webhooks_receiver(port: int, secret: str) -> None:
    """A receiver on 127.0.0.1 that verifies each delivery and prints it (to try a set-up)."""

    def body() -> int:
        import time

        from facetrust.webhooks.receiver import Receiver

        def show(r) -> None:  # noqa: ANN001
            click.echo(json.dumps({"event_id": r.event_id, "kind": r.kind, "verified": r.verified, "body": r.body}))

        receiver = Receiver(secret=secret, port=port, on_event=show).start()
        click.echo(json.dumps({"listening": receiver.url}), err=True)
        try:
            while True:
                time.sleep(3600)
        finally:
            receiver.stop()

    run(True, body)
