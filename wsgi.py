"""Entry point for gunicorn, flask and celery: `app` and `celery_app`.

Settings that cannot work end the process with one line on stderr (app/settings_check.py);
`flask --app wsgi config check` loads an app that only reports on them.
"""

from app import create_app
from app.config_report import reporting_app
from app.settings_check import created_or_exit, reporting_only

app = created_or_exit(reporting_app if reporting_only() else create_app)
celery_app = app.extensions["celery"]
