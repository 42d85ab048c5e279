"""Number and date formats per language (settings.FORMAT_MODULE_PATH), over Django's own: one
date format per locale for pages, letters and exports (`{{ day|date:"SHORT_DATE_FORMAT" }}`), and
digit grouping for every language the money filter formats in. Keys not set here fall back to
Django's locale formats."""
