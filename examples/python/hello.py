"""The smallest libeqops program in Python: versions, a duration, an error as an exception."""
import sys

import eqops

window = sys.argv[1] if len(sys.argv) > 1 else "30d"
print("libeqops", eqops.version())
try:
    ms = eqops.parse_duration(window)
    print("window %s = %d ms = %s" % (window, ms, eqops.format_duration(ms)))
except eqops.InvalidArgument as e:
    print("error %s: %s" % (e.code_name, e.message), file=sys.stderr)
    sys.exit(1)
