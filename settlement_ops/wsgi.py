import os

from django.core.wsgi import get_wsgi_application

from settlement_ops.heap import keep_full_collections_short

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")
application = get_wsgi_application()
keep_full_collections_short()
