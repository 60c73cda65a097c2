"""Partnership & Stakeholder Engagement Portal.

``create_app`` is made of named steps — configuration, extensions, blueprints, CLI commands,
error handlers, template helpers — so each can be read (and tested) on its own.

This module is the one place that knows every domain. ``portal.core`` knows none: the domains
register into core's registries (permissions, principals, worker steps, template helpers,
search documents) when the steps below import them (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal.config import INSTANCE_DIR, _default_secret, config_for


def create_app(config: str | dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder="../templates",
        static_folder="../static",
    )
    from portal.core.requests import PortalRequest

    app.request_class = PortalRequest
    from portal.core.routing import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is registered
    configure(app, config)
    register_operations(app)  # request id, logs, metrics, health: before everything else
    register_extensions(app)
    register_blueprints(app)
    register_cli(app)  # the CLI modules also register the general worker's steps
    register_domain_hooks()
    register_error_handlers(app)
    register_template_helpers(app)
    from portal.core.transaction import init_transactions

    init_transactions(app)  # last: its after_request hook runs first (commit, then the rest)
    return app


def configure(app: Flask, config: str | dict[str, Any] | None) -> None:
    overrides = config if isinstance(config, dict) else {}
    name = config if isinstance(config, str) else overrides.get("ENV_NAME")
    if overrides.get("TESTING"):
        name = name or "testing"
    config_class = config_for(name)
    app.config.from_object(config_class)
    app.config.update(overrides)
    if config_class.__name__ == "ProductionConfig":
        from portal.core.security import check_secret_key

        check_secret_key(app)  # never a generated key in production: refuse to start
    elif not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _default_secret()


def register_operations(app: Flask) -> None:
    from portal.ops import init_ops

    init_ops(app)


def register_extensions(app: Flask) -> None:
    from portal.accounts.auth import init_login
    from portal.core.i18n import select_locale
    from portal.extensions import babel, csrf, db, limiter, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_project_root() / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the locale on the app context; a request that shares one (a test
    # client inside an app context, a sub-request) must choose its own language again.
    from flask_babel import refresh

    app.before_request(refresh)
    limiter.init_app(app)
    init_login(app)
    _import_models()
    from portal.consultations.search_docs import register_consultation_search
    from portal.core.sqlite import enable_sqlite_pragmas
    from portal.notifications.services import init_mail
    from portal.reviews.search_docs import init_review_search
    from portal.search.outbox import init_search

    enable_sqlite_pragmas(app)
    init_search(app)
    init_review_search(app)
    register_consultation_search()
    init_mail(app)
    from portal.core.content_language import init_content_language

    init_content_language(app)
    from portal.storage import init_storage

    init_storage(app)  # a malformed PORTAL_STORAGE_URL stops start-up, not the first upload


def _import_models() -> None:
    """Import every models module so metadata (migrations, create_all) sees all tables."""
    import portal.accounts.models  # noqa: F401
    import portal.agreements.models  # noqa: F401
    import portal.consultations.models  # noqa: F401
    import portal.core.audit  # noqa: F401
    import portal.notifications.models  # noqa: F401
    import portal.opendata.models  # noqa: F401
    import portal.partners.models  # noqa: F401
    import portal.reviews.models  # noqa: F401
    import portal.search.models  # noqa: F401


def _project_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def register_blueprints(app: Flask) -> None:
    # These modules add routes to another module's blueprint (staff routes on the partners and
    # agreements blueprints, the API's resources on the api blueprint); they must be imported
    # before those blueprints are registered.
    import portal.agreements.manage_views  # noqa: F401
    import portal.api.catalogue  # noqa: F401
    import portal.api.reviews  # noqa: F401
    import portal.api.search  # noqa: F401
    import portal.partners.home_views  # noqa: F401  (the home page, on the core blueprint)
    import portal.partners.manage_views  # noqa: F401
    import portal.reviews.edit_views  # noqa: F401  (version N+1 edited in the browser)
    import portal.reviews.media  # noqa: F401  (images of imported drafts, permission-checked)
    import portal.reviews.reading  # noqa: F401  (template helpers for reading and commenting)
    import portal.reviews.staff_views  # noqa: F401  (staff review pages on the reviews blueprint)
    from portal.accounts.views import bp as accounts_bp
    from portal.agreements.views import bp as agreements_bp
    from portal.api.views import bp as api_bp
    from portal.consultations.views import bp as consultations_bp
    from portal.core.views import bp as core_bp
    from portal.imports.views import bp as imports_bp
    from portal.insights.views import bp as insights_bp
    from portal.notifications.views import bp as notifications_bp
    from portal.opendata.views import bp as opendata_bp
    from portal.partners.regions_views import bp as regions_bp
    from portal.partners.views import bp as partners_bp
    from portal.reviews.views import bp as reviews_bp
    from portal.search.views import bp as search_bp
    from portal.staff.views import bp as staff_bp

    for bp in (
        core_bp,
        accounts_bp,
        partners_bp,
        regions_bp,
        agreements_bp,
        insights_bp,
        search_bp,
        imports_bp,
        staff_bp,
        api_bp,
        consultations_bp,
        reviews_bp,
        opendata_bp,
        notifications_bp,
    ):
        app.register_blueprint(bp)


def register_cli(app: Flask) -> None:
    from portal.accounts.cli import users_cli
    from portal.consultations.cli import consultations_cli
    from portal.core.content_language import content_language_cli
    from portal.core.queue import queue_cli
    from portal.core.worker import worker_command
    from portal.demo.cli import seed_demo_command
    from portal.imports.cli import import_cli
    from portal.notifications.cli import mail_cli
    from portal.opendata.cli import opendata_cli
    from portal.partners.cli import reference_cli
    from portal.reviews.cli import reviews_cli
    from portal.search.cli import search_cli
    from portal.storage.cli import storage_cli

    for command in (
        users_cli,
        seed_demo_command,
        import_cli,
        mail_cli,
        opendata_cli,
        reference_cli,
        search_cli,
        reviews_cli,
        consultations_cli,
        content_language_cli,
        queue_cli,
        storage_cli,
        worker_command,
    ):
        app.cli.add_command(command)


def register_domain_hooks() -> None:
    """Import the modules by which domains fill core's registries (principals, template
    helpers); permissions, worker steps and search documents come with the views, CLI
    and search set-up imported by the other steps."""
    import portal.accounts.principals  # noqa: F401
    import portal.agreements.template_helpers  # noqa: F401
    import portal.consultations.principals  # noqa: F401
    import portal.partners.template_helpers  # noqa: F401
    import portal.reviews.principals  # noqa: F401


def register_error_handlers(app: Flask) -> None:
    from portal.core.errors import init_error_handlers

    init_error_handlers(app)


def register_template_helpers(app: Flask) -> None:
    from portal.core.guard import init_guard
    from portal.core.security import init_security
    from portal.core.templating import init_templating

    init_templating(app)
    init_security(app)
    init_guard(app)
