"""`overfeat contact-sheet` as a script, with the same flags.

python pipelines/contact_sheet.py --help
"""

import sys

from overfeat_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["contact-sheet", *sys.argv[1:]]))
