"""The YAML file drives the bot: its texts and branches change the conversation without code, and
WhatsApp's limits are checked when it loads."""

from __future__ import annotations

import pytest
import yaml
from botchat import Chat, only, reply, row_ids

from mostrador.bot.application import BotApp
from mostrador.bot.config import ConfigError, default_config_text, load_config
from mostrador.events.schemas.bot import IntakeCompleted

pytestmark = pytest.mark.unit


def write(tmp_path, data: dict) -> str:
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def modified_default(**changes) -> dict:
    data = yaml.safe_load(default_config_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value
    return data


def test_the_packaged_default_is_spanish_and_complete(config):
    assert config.business_name == "Empanadas Doña Rosa"
    assert [o.title for o in config.menu] == ["Hacer un pedido", "Consultas", "Hablar con operador"]
    assert len(config.branches) >= 3
    assert [f.id for f in config.order_fields] == ["branch", "delivery", "address", "order", "name", "notes"]
    assert [f.id for f in config.order_fields if not f.required] == ["notes"]
    spec = config.resume_spec("Lucía")
    assert (spec.name, spec.language, spec.parameters) == ("retomar_contacto", "es_AR", ["Lucía"])


def test_a_modified_file_changes_texts_and_branches_without_code(tmp_path, clock):
    path = write(tmp_path, {
        "business_name": "Pizzería Don Pepe",
        "texts": {"greeting": "Buenas, {name}. Esto es {business}."},
        "branches": [{"id": "quilmes", "name": "Quilmes", "address": "Rivadavia 100, Quilmes"},
                     {"id": "lanus", "name": "Lanús", "address": "Hipólito Yrigoyen 4000, Lanús"}],
    })
    app = BotApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, config=load_config(path))
    chat = Chat(app, clock)

    greeting = reply(chat.send("Hola"))
    assert greeting.text.startswith("Buenas, Lucía. Esto es Pizzería Don Pepe.")
    assert "¿En qué te podemos ayudar?" in greeting.text  # the keys not in the file keep their default
    branches = reply(chat.send(tap="hacer_pedido"))
    assert row_ids(branches) == ["sucursal_quilmes", "sucursal_lanus"]
    assert branches.sections[0].rows[1].description == "Hipólito Yrigoyen 4000, Lanús"


def test_the_config_path_can_come_from_bot_config(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_CONFIG", write(tmp_path, {"business_name": "Otra"}))

    assert load_config().business_name == "Otra"


def test_the_order_fields_are_configurable(tmp_path, clock):
    data = modified_default()
    dropped = ("delivery", "address", "notes")
    data["order_fields"] = [f for f in data["order_fields"] if f["id"] not in dropped]
    data["order_fields"].insert(2, {"id": "cuit", "label": "CUIT", "question": "¿Tu CUIT para la factura?",
                                    "required": False, "skip_button": "Sin factura"})
    app = BotApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, config=load_config(write(tmp_path, data)))
    chat = Chat(app, clock)
    chat.send("quiero pedir")
    assert "pedir" in reply(chat.send(row="sucursal_centro")).text  # no delivery question
    assert reply(chat.send("6 de carne")).buttons[0].title == "Sin factura"
    chat.send("20-12345678-9")
    assert "CUIT" in reply(chat.send("Sí")).text  # the summary shows it

    completed = only(chat.send(tap="resumen_confirmar"), IntakeCompleted)
    assert completed.details.extra == {"cuit": "20-12345678-9"}


def test_a_21_character_button_title_is_rejected_naming_the_key(tmp_path):
    path = write(tmp_path, modified_default(menu__2__title="Hablar con un operador"))

    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "menu[2].title" in message and "22 characters" in message and "at most 20" in message
    assert str(tmp_path) in message


@pytest.mark.parametrize("changes,expected", [
    ({"texts__confirm_button": "Confirmar mi pedido ya"}, "texts.confirm_button"),
    ({"delivery_options__pickup__title": "Retiro en la sucursal"}, "delivery_options.pickup.title"),
    ({"topics__0__title": "Estado de mi pedido de empanadas"}, "topics[0].title"),
    ({"faqs__0__description": "x" * 73}, "faqs[0].description"),
    ({"texts__branches_button": "Ver todas las sucursales"}, "texts.branches_button"),
    ({"texts__cancelled": "Cancelamos el Nº {numero}"}, "unknown placeholder {numero}"),
    ({"texts__footer": "f" * 61}, "texts.footer"),
    ({"menu__1__action": "order"}, "exactly 3 options"),
    ({"order_fields__5__skip_button": None}, "needs a skip_button"),
    ({"order_fields__3__skip_button": "Omitir"}, "only an optional one"),
    ({"branches": [{"id": f"b{i}", "name": f"B{i}", "address": "x"} for i in range(11)]}, "branches"),
    ({"branches__0__address": "Av. " + "muy larga " * 8}, "shorten it or add a description"),
])
def test_limits_and_mistakes_are_config_errors(tmp_path, changes, expected):
    with pytest.raises(ConfigError, match="invalid bot config") as error:
        load_config(write(tmp_path, modified_default(**changes)))
    assert expected in str(error.value)


def test_a_broken_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bot.yaml"
    path.write_text("texts: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "missing.yaml"))
