"""The booking service: create_app() builds the Flask app and wires Celery into it."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask
from kombu import Queue

from app import config, definitions, settings_check
from app.extensions import db, init_redis, migrate


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config.INSTANCE_DIR))
    app.config.from_mapping(config.from_env())
    if test_config:
        app.config.update(test_config)
    config.INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    # Before anything opens a URL (Flask-SQLAlchemy makes its engine in init_app), and again below.
    settings_check.refuse_unworkable(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config.PROJECT_DIR / "migrations"))
    init_redis(app)

    from app import auth, cli, observability, participants, security, web
    from app.api import init_app as init_api
    from app.api import limits

    observability.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    participants.init_app(app)
    init_api(app)
    web.init_app(app)
    limits.init_app(app)  # after the API and the pages: it wraps the views it limits
    cli.init_app(app)
    celery_init_app(app)
    # Last, so that the Celery settings checked are the ones its worker will use.
    settings_check.refuse_unworkable(app)
    return app


def celery_init_app(app: Flask) -> Celery:
    """Flask's documented pattern: every task runs inside this app's context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    celery_app.conf.broker_url = app.config["CELERY_BROKER_URL"]
    celery_app.conf.redbeat_redis_url = app.config["CELERY_BROKER_URL"]  # beat's lock and schedule
    # A worker consumes the default queue (janitors) and the queue of each saga version it runs.
    with app.app_context():
        versions = definitions.known_versions()
    celery_app.conf.task_queues = [Queue(celery_app.conf.task_default_queue),
                                   *(Queue(definitions.queue(version)) for version in versions)]
    celery_app.set_default()
    app.extensions["celery"] = celery_app

    # The shared tasks; and beat's start and signal handling (a beat_init receiver), in place
    # before any beat starts.
    from app import beat_scheduler, tasks  # noqa: F401

    return celery_app
