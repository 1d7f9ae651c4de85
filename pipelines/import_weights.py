"""`overfeat import-weights` as a script (same flags).

python pipelines/import_weights.py --help
"""

import argparse
import sys

from overfeat_tf.cli import add_import_weights_args, run_import_weights

if __name__ == "__main__":
    parser = add_import_weights_args(
        argparse.ArgumentParser(description=__doc__.splitlines()[0])
    )
    sys.exit(run_import_weights(parser.parse_args()))
