from tests.service.whatsapp.whatsapp_rig import rig  # noqa: F401  (the shared fixture)
