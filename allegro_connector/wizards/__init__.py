from . import allegro_map_products
from . import allegro_fulfilment_wizards
from . import allegro_link_invoice
