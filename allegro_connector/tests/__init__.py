from . import test_shop
from . import test_connection
from . import test_concurrent_refresh
