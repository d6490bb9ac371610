from tests.service.chat.chat_rig import chat  # noqa: F401  (the shared fixture)
