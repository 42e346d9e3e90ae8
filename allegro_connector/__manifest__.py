{
    "name": "Allegro Connector",
    "summary": "Sell on Allegro (allegro.pl, .cz, .sk, .hu) from Odoo: "
    "orders, fulfilment, tracking numbers and invoices",
    "version": "19.0.1.0.0",
    "category": "Sales/Sales",
    "license": "LGPL-3",
    "author": "allegro_connector contributors",
    "website": "https://github.com/allegro-connector/allegro_connector",
    "depends": [
        "sale_management",
        "sale_stock",
        "account",
        "stock_delivery",
    ],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/allegro_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/allegro_shop_views.xml",
        "views/sale_order_views.xml",
        "views/allegro_menus.xml",
    ],
    "installable": True,
    "application": False,
}
