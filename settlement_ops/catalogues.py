"""Translation catalogues without GNU gettext: extract messages from templates and Python with
Babel (Django's own `templatize` turns {% translate %} / {% blocktranslate %} into gettext calls,
as `makemessages` does before it runs xgettext), merge them into locale/<lang>/LC_MESSAGES/django.po,
and compile the .po files into the .mo files Django reads (`make` runs `catalogues_compile`; the
.mo files are build output, not committed).

`manage.py catalogues_extract` after marking new strings; translate the new entries in the .po
files; `make` (or `manage.py catalogues_compile`) compiles them. tests/settlement_ops/test_i18n.py
fails while a portal string has no Indonesian or Vietnamese translation.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract as babel_extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.utils.translation.template import templatize

# Every gettext flavour Django offers, with the argument positions Babel needs for the plural
# and context forms.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
# Top-level folders holding the project's code; migrations and tests carry no reader's text.
CODE_DIRS = ("settlement_ops", "vendors", "sellers", "billing", "compensation", "risk")
TEMPLATE_SUFFIXES = (".html", ".txt")
DOMAIN = "django"
PROJECT_NAME = "Settlement Ops"


def source_files() -> list[Path]:
    """The templates and Python modules whose marked strings go into the catalogues."""
    base = Path(settings.BASE_DIR)
    files = [p for p in (base / "templates").rglob("*") if p.suffix in TEMPLATE_SUFFIXES]
    for folder in CODE_DIRS:
        files += [p for p in (base / folder).rglob("*.py") if "migrations" not in p.parts]
    return sorted(files)


def _messages(code: str) -> Iterable[tuple]:
    """(lineno, message, comments, context) of each marked string in Python source."""
    return babel_extract("python", io.BytesIO(code.encode("utf-8")), keywords=KEYWORDS, options={"encoding": "utf-8"})


def extract(paths: Iterable[Path]) -> Catalog:
    """A catalogue template (msgids only) of every marked string in `paths`."""
    base = Path(settings.BASE_DIR)
    catalog = Catalog(project=PROJECT_NAME, domain=DOMAIN, fuzzy=False)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix in TEMPLATE_SUFFIXES:
            if "trans" not in text:
                continue
            # Template indentation would read as Python indentation: flush every line left.
            text = "\n".join(line.lstrip() for line in templatize(text, origin=str(path)).splitlines())
        elif "gettext" not in text:
            continue
        relative = str(path.relative_to(base))
        for lineno, message, _comments, context in _messages(text):
            singular = message[0] if isinstance(message, tuple) else message
            flags = ("python-format",) if "%(" in singular else ()
            catalog.add(message, locations=[(relative, lineno)], context=context, flags=flags)
    return catalog


def translated_choices() -> list[tuple[str, str]]:
    """(label, "module.Choices") of every model choice label that readers see translated: each
    area app's `portal` module lists its choice sets in TRANSLATED_CHOICES (the models keep plain
    English labels; the portal templates translate them with {% translate obj.get_status_display %})."""
    from .navigation import area_modules

    return [
        (str(label), f"{choices.__module__}.{choices.__qualname__}")
        for module in area_modules("portal")
        for choices in getattr(module, "TRANSLATED_CHOICES", [])
        for label in choices.labels
    ]


def add_translated_choices(catalog: Catalog) -> Catalog:
    for label, where in translated_choices():
        catalog.add(label, locations=[(where, 0)])
    return catalog


def po_path(language: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalogue_languages() -> list[str]:
    """Every language but the source language (English): the ones with a catalogue."""
    return [code for code, _name in settings.LANGUAGES if code != "en"]


def read_catalogue(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def update(languages: Iterable[str] | None = None) -> dict[str, int]:
    """Merge the extracted messages into each language's .po (new entries untranslated, entries no
    longer in the code dropped, translations kept). Returns {language: untranslated entries}."""
    template = add_translated_choices(extract(source_files()))
    result = {}
    for language in languages or catalogue_languages():
        path = po_path(language)
        if path.exists():
            catalog = read_catalogue(language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, project=PROJECT_NAME, domain=DOMAIN, fuzzy=False)
        # No fuzzy guesses: a near-miss translation of a money term is worse than none.
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, ignore_obsolete=True, include_lineno=False, sort_by_file=False)
        result[language] = sum(1 for m in catalog if m.id and not m.string)
    return result


class CatalogueError(ValueError):
    pass


def compile_all(force: bool = False) -> list[Path]:
    """Compile every locale/*/LC_MESSAGES/*.po newer than its .mo. Refuses a catalogue whose
    translations do not keep the placeholders of their msgid (they would break at render time)."""
    written = []
    for locale_dir in settings.LOCALE_PATHS:
        for po in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            if not force and mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parent.parent.name, domain=po.stem)
            problems = [f"{po}: {message.id!r}: {error}" for message, errors in catalog.check() for error in errors]
            if problems:
                raise CatalogueError("\n".join(problems))
            # Atomic: a web process and a worker may compile the same catalogue at start-up.
            partial = mo.with_name(f".{mo.name}.{os.getpid()}")
            with partial.open("wb") as f:
                write_mo(f, catalog, use_fuzzy=False)
            os.replace(partial, mo)
            written.append(mo)
    return written
