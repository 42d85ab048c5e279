import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settlement_ops.settings.base")
application = get_asgi_application()
