"""Keep the message catalogs in step with the code.

    python scripts/catalog.py extract   # add new English texts to every .po (empty), drop gone ones
    python scripts/catalog.py compile   # .po -> .mo (commit both; the wheel ships the .mo)
    python scripts/catalog.py missing   # list texts without a translation (exit 1 if any)
"""

from __future__ import annotations

import sys

from chainrule.i18n import LANGUAGES
from chainrule.i18n_catalog import compile_all, extract, untranslated, update


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else "missing"
    languages = [lang for lang in LANGUAGES if lang != "en"]
    if action == "extract":
        template = extract()
        for lang in languages:
            catalog = update(lang, template)
            print(f"{lang}: {len(catalog)} messages")
        return 0
    if action == "compile":
        for path in compile_all():
            print(f"wrote {path}")
        return 0
    if action == "missing":
        template = extract()
        status = 0
        for lang in languages:
            for text in untranslated(lang, template):
                print(f"{lang}: {text!r}")
                status = 1
        return status
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
