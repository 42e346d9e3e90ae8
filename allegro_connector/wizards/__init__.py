from . import allegro_map_products
from . import allegro_fulfillment_wizards
from . import allegro_link_invoice
from . import allegro_pickup
from . import allegro_reply
from . import allegro_return_reject
from . import allegro_refund_wizard
