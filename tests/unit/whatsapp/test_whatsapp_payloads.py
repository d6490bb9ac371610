"""Outbound limits (checked before any HTTP call) and the exact Graph JSON for each kind."""

import pytest

from mostrador.events.schemas.common import (
    ButtonOption,
    Customer,
    ListRow,
    ListSection,
    OutboundContent,
    TemplateSpec,
)
from mostrador.whatsapp.errors import ContentError
from mostrador.whatsapp.payloads import build_payload, read_payload, validate

pytestmark = pytest.mark.unit

LUCIA = Customer(key="5491100000001", wa_id="5491100000001", user_id="AR.1093847561029384", name="Lucía")
CARO = Customer(key="AR.4470192837465019", user_id="AR.4470192837465019")
BASE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5491100000001"}


def buttons(*titles, **extra):
    return OutboundContent(
        kind="buttons",
        text="¿Cómo seguimos?",
        buttons=[ButtonOption(id=f"b{i}", title=t) for i, t in enumerate(titles)],
        **extra,
    )


def listing(rows_per_section=(2,), **extra):
    sections = [
        ListSection(title=f"Zona {s}", rows=[ListRow(id=f"r{s}-{i}", title=f"Fila {i}") for i in range(n)])
        for s, n in enumerate(rows_per_section)
    ]
    return OutboundContent(
        **{"kind": "list", "text": "Elegí", "list_button": "Ver sucursales", "sections": sections} | extra
    )


def test_text_payload_with_callback_and_quoted_reply():
    content = OutboundContent(kind="text", text="¡Hola Lucía! ¿Qué te gustaría pedir?")
    assert build_payload(LUCIA, content, callback_data="msg-1", reply_to="wamid.in") == BASE | {
        "context": {"message_id": "wamid.in"},
        "type": "text",
        "text": {"preview_url": False, "body": "¡Hola Lucía! ¿Qué te gustaría pedir?"},
        "biz_opaque_callback_data": "msg-1",
    }


def test_text_with_a_link_asks_for_a_preview():
    payload = build_payload(LUCIA, OutboundContent(kind="text", text="Menú: https://example.com/menu"))
    assert payload["text"]["preview_url"] is True


def test_username_customer_is_addressed_by_bsuid():
    payload = build_payload(CARO, OutboundContent(kind="text", text="Hola"))
    assert payload["recipient"] == "AR.4470192837465019" and "to" not in payload


def test_key_only_customer_falls_back_by_shape():
    assert (
        build_payload(Customer(key="5491100000009"), OutboundContent(kind="text", text="x"))["to"]
        == "5491100000009"
    )
    assert build_payload(Customer(key="AR.1"), OutboundContent(kind="text", text="x"))["recipient"] == "AR.1"


def test_buttons_payload():
    content = buttons(
        "Hacer un pedido",
        "Ver sucursales",
        "Hablar con operador",
        header="Empanadas Doña Rosa",
        footer="Respondé con un botón",
    )
    assert build_payload(LUCIA, content) == BASE | {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Empanadas Doña Rosa"},
            "body": {"text": "¿Cómo seguimos?"},
            "footer": {"text": "Respondé con un botón"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "b0", "title": "Hacer un pedido"}},
                    {"type": "reply", "reply": {"id": "b1", "title": "Ver sucursales"}},
                    {"type": "reply", "reply": {"id": "b2", "title": "Hablar con operador"}},
                ]
            },
        },
    }


def test_list_payload():
    content = OutboundContent(
        kind="list",
        text="¿Dónde retirás el pedido?",
        header="Elegí la sucursal",
        footer="Horario 11 a 23 h",
        list_button="Ver sucursales",
        sections=[
            ListSection(
                title="Capital",
                rows=[
                    ListRow(
                        id="sucursal_centro", title="Sucursal Centro", description="Av. Corrientes 1234, CABA"
                    ),
                    ListRow(id="sucursal_palermo", title="Sucursal Palermo"),
                ],
            )
        ],
    )
    assert build_payload(LUCIA, content)["interactive"] == {
        "type": "list",
        "header": {"type": "text", "text": "Elegí la sucursal"},
        "body": {"text": "¿Dónde retirás el pedido?"},
        "footer": {"text": "Horario 11 a 23 h"},
        "action": {
            "button": "Ver sucursales",
            "sections": [
                {
                    "title": "Capital",
                    "rows": [
                        {
                            "id": "sucursal_centro",
                            "title": "Sucursal Centro",
                            "description": "Av. Corrientes 1234, CABA",
                        },
                        {"id": "sucursal_palermo", "title": "Sucursal Palermo"},
                    ],
                }
            ],
        },
    }


def test_location_request_cta_template_and_image_payloads():
    location = build_payload(LUCIA, OutboundContent(kind="location_request", text="¿A dónde te lo llevamos?"))
    assert location["interactive"] == {
        "type": "location_request_message",
        "body": {"text": "¿A dónde te lo llevamos?"},
        "action": {"name": "send_location"},
    }
    cta = build_payload(
        LUCIA,
        OutboundContent(
            kind="cta_url", text="Mirá el menú", url="https://example.com/m", url_label="Ver menú"
        ),
    )
    assert cta["interactive"] == {
        "type": "cta_url",
        "body": {"text": "Mirá el menú"},
        "action": {
            "name": "cta_url",
            "parameters": {"display_text": "Ver menú", "url": "https://example.com/m"},
        },
    }
    template = build_payload(
        LUCIA,
        OutboundContent(
            kind="template", template=TemplateSpec(name="pedido_listo", parameters=["Lucía", "#1042"])
        ),
    )
    assert template["type"] == "template" and template["template"] == {
        "name": "pedido_listo",
        "language": {"code": "es_AR"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Lucía"}, {"type": "text", "text": "#1042"}],
            }
        ],
    }
    bare = build_payload(
        LUCIA, OutboundContent(kind="template", template=TemplateSpec(name="hola", language="es"))
    )
    assert bare["template"] == {"name": "hola", "language": {"code": "es"}}
    image = build_payload(
        LUCIA, OutboundContent(kind="image", media_link="https://example.com/menu.jpg", text="Menú")
    )
    assert image["type"] == "image" and image["image"] == {
        "link": "https://example.com/menu.jpg",
        "caption": "Menú",
    }


def test_read_payload_with_typing_indicator():
    assert read_payload("wamid.x") == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.x",
    }
    assert read_payload("wamid.x", typing=True)["typing_indicator"] == {"type": "text"}


def test_limits_that_pass_exactly_at_the_boundary():
    validate(OutboundContent(kind="text", text="x" * 4096))
    validate(buttons("a" * 20, "b", "c", header="h" * 60, footer="f" * 60))
    validate(buttons("a").model_copy(update={"text": "x" * 1024}))
    validate(listing((5, 5), list_button="b" * 20))
    validate(listing((1,) * 10))


BAD = [
    (OutboundContent(kind="text", text="x" * 4097), "4097 characters"),
    (OutboundContent(kind="text", text="  "), "non-empty"),
    (OutboundContent(kind="text"), "non-empty"),
    (buttons(), "1 to 3 buttons"),
    (buttons("a", "b", "c", "d"), "1 to 3 buttons"),
    (buttons("Hablar con un operador"), "22 characters"),
    (buttons("Igual", "Igual"), "unique"),
    (buttons("a", header="h" * 61), "header"),
    (buttons("a", footer="f" * 61), "footer"),
    (buttons("a").model_copy(update={"text": "x" * 1025}), "1025 characters"),
    (buttons("a").model_copy(update={"text": None}), "body is required"),
    (
        OutboundContent(
            kind="buttons",
            text="x",
            buttons=[ButtonOption(id="same", title="A"), ButtonOption(id="same", title="B")],
        ),
        "ids must be unique",
    ),
    (
        OutboundContent(
            kind="buttons", text="x", buttons=[ButtonOption.model_construct(id="i" * 257, title="A")]
        ),
        "button id",
    ),
    (listing((6, 5)), "1 to 10 rows"),
    (listing(()), "1 to 10 sections"),
    (listing((1,) * 11), "1 to 10 sections"),
    (listing((1, 0)), "has no rows"),
    (listing((1,), list_button="b" * 21), "list button label"),
    (listing((1,), list_button=None), "list button label is required"),
    (listing((1,)).model_copy(update={"text": "x" * 4097}), "list message body"),
    (
        OutboundContent(
            kind="list",
            text="x",
            list_button="b",
            sections=[ListSection(title="t" * 25, rows=[ListRow(id="1", title="a")])],
        ),
        "section title",
    ),
    (
        OutboundContent(
            kind="list",
            text="x",
            list_button="b",
            sections=[
                ListSection(rows=[ListRow(id="1", title="a")]),
                ListSection(rows=[ListRow(id="2", title="b")]),
            ],
        ),
        "several sections",
    ),
    (
        OutboundContent(
            kind="list",
            text="x",
            list_button="b",
            sections=[ListSection(rows=[ListRow(id="1", title="r" * 25)])],
        ),
        "row title",
    ),
    (
        OutboundContent(
            kind="list",
            text="x",
            list_button="b",
            sections=[ListSection(rows=[ListRow(id="1", title="r", description="d" * 73)])],
        ),
        "row description",
    ),
    (
        OutboundContent(
            kind="list",
            text="x",
            list_button="b",
            sections=[ListSection(rows=[ListRow(id="i" * 201, title="r")])],
        ),
        "row id",
    ),
    (
        OutboundContent(
            kind="list",
            text="x",
            list_button="b",
            sections=[ListSection(rows=[ListRow(id="1", title="r"), ListRow(id="1", title="s")])],
        ),
        "row ids must be unique",
    ),
    (OutboundContent(kind="cta_url", text="x", url_label="Ver"), "http"),
    (OutboundContent(kind="cta_url", text="x", url="javascript:alert(1)", url_label="Ver"), "http"),
    (OutboundContent(kind="cta_url", text="x", url="https://e.com"), "label is required"),
    (OutboundContent(kind="cta_url", text="x", url="https://e.com", url_label="l" * 21), "label"),
    (OutboundContent(kind="location_request"), "body is required"),
    (OutboundContent(kind="template"), "needs a template"),
    (OutboundContent(kind="template", template=TemplateSpec(name=" ")), "needs a name"),
    (OutboundContent(kind="template", template=TemplateSpec(name="t", language="")), "language"),
    (OutboundContent(kind="template", template=TemplateSpec(name="t", parameters=["a\nb"])), "newline"),
    (OutboundContent(kind="template", template=TemplateSpec(name="t", parameters=[""])), "empty"),
    (OutboundContent(kind="image"), "image link"),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_limits_are_rejected_with_a_clear_message(content, message):
    with pytest.raises(ContentError, match=message.replace("(", r"\(")):
        validate(content)
    with pytest.raises(ContentError):
        build_payload(LUCIA, content)


def test_callback_data_is_capped_at_512():
    build_payload(LUCIA, OutboundContent(kind="text", text="x"), callback_data="k" * 512)
    with pytest.raises(ContentError, match="callback data"):
        build_payload(LUCIA, OutboundContent(kind="text", text="x"), callback_data="k" * 513)
