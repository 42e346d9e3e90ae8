from . import allegro_shop
from . import allegro_shop_token
from . import sale_order
