import pathlib
import sys

# The reference lives beside the tests; the package itself is the installed one.
sys.path.insert(0, str(pathlib.Path(__file__).parent))
