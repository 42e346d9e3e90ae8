from . import test_shop
from . import test_connection
from . import test_concurrent_refresh
from . import test_order_import
from . import test_concurrent_import
from . import test_fulfilment
from . import test_invoice
from . import test_tours
