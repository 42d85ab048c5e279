# Tiếng Việt: 31/10/2026; 12.500 ₫ (dot groups, comma decimals). Django's own vi formats do not
# group digits at all, which makes VND amounts unreadable.
DATE_FORMAT = "d/m/Y"
SHORT_DATE_FORMAT = "d/m/Y"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3
DATETIME_FORMAT = "d/m/Y H:i"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"
