from tests.service.panel.panel_rig import panel  # noqa: F401  (the shared fixture)
