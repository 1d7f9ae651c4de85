"""`overfeat import-weights` as a script, with the same flags.

python pipelines/import_weights.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["import-weights", *sys.argv[1:]]))
