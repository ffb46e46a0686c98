"""The Tryton side of the demo: company, plants (warehouses and their quality locations),
suppliers, items, purchase orders and quality controls, written over JSON-RPC.

Everything here is what a Tryton administrator would configure once; ``_demo`` then receives,
inspects and disposes lots through the connectors themselves.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Final, NamedTuple

from system_apis.connectors.tryton._locations import CONSUMPTION_CODE, SUFFIXES
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = [
    "ITEMS",
    "PLANTS",
    "SUPPLIERS",
    "DemoItem",
    "configure_company",
    "configure_master_data",
]


class DemoItem(NamedTuple):
    item_id: str
    description: str
    uom: str
    supplier_id: str


PLANTS: Final = (("1000", "Stuttgart Works", "DE"), ("2000", "Greenville Plant", "US"))
SUPPLIERS: Final = (
    ("SUP-0001", "Kugelwerk Schweinfurt GmbH", "DE"),
    ("SUP-0002", "Midlands Precision Castings Ltd", "GB"),
    ("SUP-0003", "Pearl River Electronics Co., Ltd.", "CN"),
    ("SUP-0004", "Great Lakes Sealing Inc.", "US"),
)
ITEMS: Final = (
    DemoItem("BRG-6205", "Deep groove ball bearing 6205-2RS C3", "PC", "SUP-0001"),
    DemoItem("HSG-A100", "Gearbox housing A100, AlSi9Cu3 die cast", "PC", "SUP-0002"),
    DemoItem("PCB-CTRL7", "Motor controller PCB assembly rev 7", "PC", "SUP-0003"),
    DemoItem("GRS-LX2", "Lithium complex grease NLGI 2", "kg", "SUP-0004"),
    DemoItem("SEL-ORG25", "O-ring 25x3 NBR 70", "PC", "SUP-0004"),
)
_COUNTRIES: Final = {"DE": "Germany", "GB": "United Kingdom", "CN": "China", "US": "United States"}
_SEQUENCES: Final = (
    ("purchase.configuration", "purchase_sequence", "PO-"),
    ("stock.configuration", "shipment_in_sequence", "GR-"),
    ("stock.configuration", "shipment_internal_sequence", "IS-"),
    ("quality.configuration", "inspection_sequence", "INSP-"),
    ("quality.configuration", "alert_sequence", "NC-"),
)


async def configure_company(client: TrytonClient, name: str) -> int:
    """Countries, currencies and the company (made the admin user's company); its id."""
    countries = await client.execute(
        "country.country", "create", [{"name": n, "code": c} for c, n in _COUNTRIES.items()]
    )
    country = dict(zip(_COUNTRIES, countries, strict=True))
    [eur, _] = await client.execute("currency.currency", "create", [
        {"name": "Euro", "code": "EUR", "symbol": "€", "rounding": Decimal("0.01"), "digits": 2},
        {"name": "US Dollar", "code": "USD", "symbol": "$", "rounding": Decimal("0.01"),
         "digits": 2},
    ])  # fmt: skip
    [party] = await client.execute("party.party", "create", [{
        "name": name, "addresses": [["create", [{"city": "Stuttgart", "country": country["DE"]}]]],
    }])  # fmt: skip
    [company] = await client.execute(
        "company.company", "create", [{"party": party, "currency": eur}]
    )
    session = client.session
    assert session is not None
    await client.execute(
        "res.user",
        "write",
        [session.user_id],
        {"companies": [["add", [company]]], "company": company},
    )
    return int(company)


async def configure_master_data(client: TrytonClient, *, today: dt.date) -> dict[str, Any]:
    """Sequences, plants, suppliers, items and one open purchase order per item and plant.

    Run with the company in the context. Returns the ids the seeding goes on with."""
    for configuration, field, prefix in _SEQUENCES:
        [values] = await client.execute(configuration, "read", [1], [field])
        sequence = values[field]
        for model in ("ir.sequence", "ir.sequence.strict"):
            if await client.execute(model, "search", [("id", "=", sequence)]):
                await client.execute(model, "write", [sequence], {"prefix": prefix, "padding": 6})
    countries = {
        r["code"]: r["id"]
        for r in await client.execute("country.country", "search_read", [], 0, None, None, ["code"])
    }
    plants = await _plants(client, countries)
    parties = {}
    addresses = {}
    for code, name, country in SUPPLIERS:
        [party] = await client.execute("party.party", "create", [{
            "name": name, "code": code,
            "addresses": [["create", [{"country": countries[country]}]]],
        }])  # fmt: skip
        parties[code] = party
        addresses[code] = (await client.execute("party.party", "read", [party], ["addresses"]))[0][
            "addresses"
        ][0]
    [lot_type] = await client.execute("ir.sequence.type", "search", [("name", "=", "Stock Lot")])
    [lot_sequence] = await client.execute("ir.sequence", "create", [
        {"name": "Batches", "sequence_type": lot_type, "prefix": "B", "padding": 6,
         "company": None},
    ])  # fmt: skip
    units = await client.execute(
        "product.uom", "search_read", [("symbol", "in", ["u", "kg"])], 0, None, None,
        ["symbol", "category"],
    )  # fmt: skip
    uoms = {r["symbol"]: r["id"] for r in units}
    # Pieces counted to 3 decimals, like the canonical model (Tryton's unit rounds to 1).
    [uoms["PC"]] = await client.execute("product.uom", "create", [{
        "name": "Piece", "symbol": "PC", "category": next(r["category"] for r in units
                                                          if r["symbol"] == "u"),
        "factor": 1.0, "rate": 1.0, "rounding": 0.001, "digits": 3,
    }])  # fmt: skip
    products = {}
    for item in ITEMS:
        [template] = await client.execute("product.template", "create", [{
            "name": item.description, "code": item.item_id, "type": "goods",
            "default_uom": uoms[item.uom], "purchasable": True, "purchase_uom": uoms[item.uom],
            "list_price": Decimal("0"), "lot_sequence": lot_sequence,
            "products": [["create", [{}]]],
        }])  # fmt: skip
        await client.execute(
            "purchase.product_supplier",
            "create",
            [{"template": template, "party": parties[item.supplier_id]}],
        )
        products[item.item_id] = (
            await client.execute("product.template", "read", [template], ["products"])
        )[0]["products"][0]
    eur = (await client.execute("currency.currency", "search", [("code", "=", "EUR")]))[0]
    purchases = []
    for plant_id, warehouse in plants.items():
        for item in ITEMS:
            purchases.append({
                "party": parties[item.supplier_id], "invoice_address": addresses[item.supplier_id],
                "warehouse": warehouse, "currency": eur, "invoice_method": "manual",
                "purchase_date": today, "description": f"{item.item_id} for plant {plant_id}",
                "lines": [["create", [
                    {"type": "line", "sequence": 10, "product": products[item.item_id],
                     "quantity": 1000.0, "unit": uoms[item.uom], "unit_price": Decimal("2.50")},
                    {"type": "line", "sequence": 20, "product": products[item.item_id],
                     "quantity": 500.0, "unit": uoms[item.uom], "unit_price": Decimal("2.45")},
                ]]],
            })  # fmt: skip
    ids = await client.execute("purchase.purchase", "create", purchases)
    await client.execute("purchase.purchase", "quote", ids)
    await client.execute("purchase.purchase", "confirm", ids)
    return {"plants": plants, "parties": parties, "products": products, "uoms": uoms}


async def _plants(client: TrytonClient, countries: dict[str, int]) -> dict[str, int]:
    """Warehouse per plant: the default one becomes 1000, 2000 is added; each gets its quality
    locations outside the storage zone; plus the consumption location."""
    [default] = await client.execute("stock.location", "search", [("type", "=", "warehouse")])
    [lost_found] = await client.execute("stock.location", "search", [("type", "=", "lost_found")])
    warehouses = {}
    for index, (plant_id, name, country) in enumerate(PLANTS):
        [address_party] = await client.execute("party.party", "create", [{
            "name": name, "addresses": [["create", [{"country": countries[country]}]]],
        }])  # fmt: skip
        address = (await client.execute("party.party", "read", [address_party], ["addresses"]))[0][
            "addresses"
        ][0]
        if index == 0:
            warehouse = int(default)
            zones = (await client.execute(
                "stock.location", "read", [warehouse],
                ["input_location", "output_location", "storage_location"],
            ))[0]  # fmt: skip
            for zone, suffix in (("input_location", "IN"), ("output_location", "OUT"),
                                 ("storage_location", "STO")):  # fmt: skip
                await client.execute(
                    "stock.location", "write", [zones[zone]], {"code": f"{plant_id}-{suffix}"}
                )
            await client.execute("stock.location", "write", [warehouse], {
                "name": name, "code": plant_id, "address": address,
                "lost_found_location": lost_found,
            })  # fmt: skip
        else:
            input_, output, storage = await client.execute("stock.location", "create", [
                {"name": f"{name} Input Zone", "code": f"{plant_id}-IN", "type": "storage"},
                {"name": f"{name} Output Zone", "code": f"{plant_id}-OUT", "type": "storage"},
                {"name": f"{name} Storage Zone", "code": f"{plant_id}-STO", "type": "storage"},
            ])  # fmt: skip
            [warehouse] = await client.execute("stock.location", "create", [{
                "name": name, "code": plant_id, "type": "warehouse", "address": address,
                "input_location": input_, "output_location": output, "storage_location": storage,
                "lost_found_location": lost_found,
            }])  # fmt: skip
            await client.execute(
                "stock.location", "write", [input_, output, storage], {"parent": warehouse}
            )
        await client.execute("stock.location", "create", [
            {"name": f"{name} {suffix.title()}", "code": f"{plant_id}-{suffix}",
             "type": "storage", "parent": warehouse}
            for suffix in SUFFIXES
        ])  # fmt: skip
        warehouses[plant_id] = int(warehouse)
    await client.execute("stock.location", "create", [
        {"name": "Consumption (qgate goods issues)", "code": CONSUMPTION_CODE, "type": "storage"},
    ])  # fmt: skip
    return warehouses
