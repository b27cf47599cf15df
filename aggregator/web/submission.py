"""An organizer's registration, read and checked before anything is fetched or stored.

Everything here is about what a visitor typed: lengths, e-mail syntax, municipality,
and above all the calendar address. An address that names a private, loopback or
link-local machine is refused here by its spelling (every way to write 127.0.0.1:
``2130706433``, ``0x7f000001``, ``0177.1``, ``[::ffff:127.0.0.1]``), and again by the
fetch guard at every hop, after DNS, when the preview fetches it.

Each refusal carries the field it is about and one Swedish sentence for the organizer.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import re
import socket
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from aggregator.model import Settings
from aggregator.normalize import slugify
from aggregator.normalize.source_urls import fetchable_url, url_key
from aggregator.normalize.text import human_size
from aggregator.normalize.urls import split_url
from aggregator.store.registrations import Upload

MAX_NAME = 120
MAX_EMAIL = 254  # RFC 5321's limit on a forward path
MAX_URL = 2000
MAX_MUNICIPALITY = 60
MAX_CATEGORIES = 5
MAX_CATEGORY = 40
MAX_FILE_NAME = 200
MAX_REASON = 500
MAX_UPLOAD = 10 * 1024 * 1024  # an events-only Facebook export is a few hundred kB
MAX_ZIP_MEMBERS = 2000  # an events export has a handful; a full one without media hundreds
MAX_ZIP_UNPACKED = 4 * MAX_UPLOAD  # what the export reader's unpack budget allows
HONEYPOT = "hemsida"  # hidden on the page; people leave it empty, form-filling robots do not
FIELDS = ("name", "email", "url", "municipality", "categories", HONEYPOT)
WEB_PORTS = {80, 443, 8080, 8443}
SCHEMES = ("http", "https", "webcal", "webcals", "feed")
LOCAL_SUFFIXES = (
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".lan",
    ".home",
    ".corp",
    ".home.arpa",
    ".test",
    ".invalid",
    ".onion",
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)


class Refusal(Exception):
    """A field the organizer must change: 422 (400 for a body that is not a form at all)."""

    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        self.field = field
        self.message = message
        self.status = status
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Submission:
    name: str
    email: str
    municipality: str
    categories: tuple[str, ...]
    url: str  # what to fetch; "" when a file was uploaded
    url_key: str
    upload: Upload | None = None


def read_submission(
    fields: Mapping[str, object],
    upload: Upload | None,
    settings: Settings,
    *,
    preview: bool = False,
) -> Submission:
    """Check every field of a registration and return it cleaned.

    For a ``preview`` (asked for while the organizer is still typing) only the address or
    file must be there and right; name, e-mail and municipality are checked when given.
    """
    for key in fields:
        if key not in FIELDS:
            raise Refusal(key, _unknown_field(key))
    if _text(fields, HONEYPOT, 200):
        raise Refusal(HONEYPOT, "Lämna fältet ”Lämna tomt” tomt och skicka igen.")
    name = _text(fields, "name", MAX_NAME)
    if len(name) < 2 and not preview:
        raise Refusal("name", "Skriv arrangörens namn, till exempel ”Lönneberga hembygdsförening”.")
    email = _text(fields, "email", MAX_EMAIL)
    if not preview:
        email = check_email(email)
    municipality = _text(fields, "municipality", MAX_MUNICIPALITY)
    if municipality or not preview:
        municipality = check_municipality(municipality, settings)
    categories = check_categories(fields.get("categories"))
    raw_url = _text(fields, "url", MAX_URL, collapse=False)
    if raw_url and upload is not None:
        raise Refusal("url", "Ange antingen en adress eller en fil, inte båda.")
    if upload is not None:
        checked = check_upload(upload)
        key = "upload:" + hashlib.sha256(checked.data).hexdigest()
        return Submission(name, email, municipality, categories, "", key, checked)
    if not raw_url:
        raise Refusal(
            "url",
            "Ange adressen till er kalender, ert flöde eller er webbplats, eller ladda upp en fil.",
        )
    url = check_url(raw_url, settings)
    return Submission(name, email, municipality, categories, url, url_key(url))


def _unknown_field(key: str) -> str:
    if key == "path":
        return "Vi läser bara kalendrar från en webbadress eller en uppladdad fil, inte från en sökväg."
    shown = key[:40]
    return f"Fältet ”{shown}” finns inte i formuläret; skicka bara namn, e-post, adress, kommun och kategorier."


def _text(fields: Mapping[str, object], key: str, limit: int, *, collapse: bool = True) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Refusal(key, f"Fältet ”{key}” ska vara text.", status=400)
    if len(value) > limit * 2:  # long before cleaning: refuse without touching it
        raise Refusal(key, _too_long(key, limit))
    text = _CONTROL.sub("", value)
    text = _SPACES.sub(" ", text).strip() if collapse else text.strip()
    if len(text) > limit:
        raise Refusal(key, _too_long(key, limit))
    return text


def _too_long(key: str, limit: int) -> str:
    label = {"name": "Namnet", "email": "E-postadressen", "url": "Adressen"}.get(key, "Texten")
    return f"{label} är för lång (högst {limit:,} tecken).".replace(",", " ")


def check_email(value: str) -> str:
    """Syntax only (``email-validator`` without DNS): we never look up a visitor's domain."""
    if not value:
        raise Refusal("email", "Skriv en e-postadress vi kan nå er på.")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise Refusal(
            "email", "E-postadressen ser inte ut att stämma; skriv den som namn@exempel.se."
        ) from None
    return str(checked.normalized)


def check_municipality(value: str, settings: Settings) -> str:
    known = {slugify(m): m for m in settings.municipalities}
    if not value:
        raise Refusal("municipality", "Välj den kommun där ni har era evenemang.")
    found = known.get(slugify(value))
    if found is None:
        raise Refusal(
            "municipality",
            f"Vi täcker inte ”{value[:MAX_MUNICIPALITY]}”; välj en av {', '.join(settings.municipalities)}.",
        )
    return found


def check_categories(value: object) -> tuple[str, ...]:
    """A list, or one comma-separated text (a form field): at most 5, each at most 40 chars."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list):
        items = list(value)
    else:
        raise Refusal("categories", "Kategorierna ska vara en lista med text.", status=400)
    if len(items) > MAX_CATEGORIES * 4:
        raise Refusal("categories", f"Välj högst {MAX_CATEGORIES} kategorier.")
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            raise Refusal("categories", "Kategorierna ska vara en lista med text.", status=400)
        text = _SPACES.sub(" ", _CONTROL.sub("", item)).strip()
        if len(text) > MAX_CATEGORY:
            raise Refusal(
                "categories", f"En kategori får vara högst {MAX_CATEGORY} tecken: ”{text[:40]}…”."
            )
        if text:
            out.setdefault(text.casefold(), text)
    if len(out) > MAX_CATEGORIES:
        raise Refusal("categories", f"Välj högst {MAX_CATEGORIES} kategorier.")
    return tuple(out.values())


def check_url(raw: str, settings: Settings) -> str:
    """The address to fetch, or a Refusal saying what is wrong with it."""
    if len(raw) > MAX_URL:
        raise Refusal("url", _too_long("url", MAX_URL))
    if _CONTROL.search(raw) or re.search(r"\s", raw):
        raise Refusal(
            "url", "Adressen innehåller mellanslag eller osynliga tecken; klistra in den igen."
        )
    scheme = _SCHEME.match(raw)
    if scheme is None or not raw[scheme.end() :].startswith("//"):
        if raw.startswith(("/", ".", "~", "\\")) or re.match(r"^[a-z]:\\", raw, re.IGNORECASE):
            raise Refusal(
                "url", "Ange en webbadress som börjar med https://, inte en sökväg på en dator."
            )
        if scheme is None and re.match(r"^[\w.-]+\.[a-z]{2,}(?:[/:?#]|$)", raw, re.IGNORECASE):
            raw = "https://" + raw  # "www.forening.se/kalender", typed without https://
        elif scheme is not None and scheme.group(1).lower() not in SCHEMES:
            raise Refusal("url", _bad_scheme(scheme.group(1)))
        else:
            raise Refusal("url", "Ange en hel webbadress, som https://www.forening.se/kalender.")
    scheme_name = raw.split(":", 1)[0].lower()
    if scheme_name not in SCHEMES:
        raise Refusal("url", _bad_scheme(scheme_name))
    url = fetchable_url(raw)
    parts = split_url(url)
    if parts is None or not parts.hostname:
        raise Refusal("url", "Adressen går inte att läsa; kontrollera att den är rätt kopierad.")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise Refusal(
            "url",
            "Adressen innehåller ett användarnamn eller lösenord. Ta bort det: vi läser bara "
            "kalendrar som är öppna för alla.",
        )
    try:
        port = parts.port
    except ValueError:
        raise Refusal("url", "Adressen har ett portnummer som inte går att använda.") from None
    host = parts.hostname.rstrip(".").lower()
    effective = port or (443 if parts.scheme == "https" else 80)
    written = f"[{host}]:{effective}" if ":" in host else f"{host}:{effective}"
    if written in settings.trusted_hosts:
        return url
    if _is_local_name(host) or _private_literal(host):
        raise Refusal(
            "url",
            "Adressen pekar på en dator i ett internt nätverk, och dit hämtar vi aldrig något. "
            "Ange kalenderns offentliga adress.",
        )
    if effective not in WEB_PORTS:
        raise Refusal(
            "url",
            f"Adressen använder port {effective}; vi hämtar bara från vanliga webbportar "
            "(80, 443, 8080 och 8443).",
        )
    return url


def _bad_scheme(scheme: str) -> str:
    return (
        f"Adresser som börjar med ”{scheme[:20]}:” kan vi inte läsa; ange en adress som börjar "
        "med https://, http:// eller webcal://."
    )


def _is_local_name(host: str) -> bool:
    if host == "localhost" or host.endswith(LOCAL_SUFFIXES):
        return True
    # one label ("intranet", "router") is a name only a local network resolves; IP
    # literals ("2130706433", "[::1]") are judged by _private_literal instead
    return "." not in host and ":" not in host and not _NUMERIC_HOST.match(host)


def _private_literal(host: str) -> bool:
    """Whether ``host`` is an IP address in any spelling that is not a public one.

    ``inet_aton`` reads what the C library (and so the fetch) would connect to:
    decimal ``2130706433``, hex ``0x7f000001``, octal ``0177.0.0.1``, short ``127.1``.
    """
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        if _NUMERIC_HOST.match(host):
            try:
                address = ipaddress.IPv4Address(socket.inet_aton(host))
            except OSError:
                return False
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in ipaddress.IPv6Network("::/96"):
            return True  # "IPv4-compatible" ([::127.0.0.1]): deprecated, never a public host
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None and not _public(embedded):
            return True
    return not _public(address)


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global and not address.is_multicast


def check_upload(upload: Upload) -> Upload:
    """A Facebook export: a .zip or .json, within the size caps; a zip's members counted
    and its unpacked size summed before anything is unpacked."""
    name = upload.name.replace("\\", "/").rsplit("/", 1)[-1][:MAX_FILE_NAME] or "export"
    data = upload.data
    if not data:
        raise Refusal("file", "Filen är tom; välj exporten från Facebook igen.")
    if len(data) > MAX_UPLOAD:
        raise Refusal("file", _too_big_upload())
    if data.startswith(b"PK\x03\x04"):
        _check_zip(data)
        return Upload(name if name.lower().endswith(".zip") else name + ".zip", data)
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return Upload(name if name.lower().endswith(".json") else name + ".json", data)
    raise Refusal(
        "file",
        "Filen är varken en .zip eller en .json från Facebook. Ladda ner exporten med "
        "formatet JSON och ladda upp den som den är.",
    )


def _too_big_upload() -> str:
    return (
        f"Filen är större än {human_size(MAX_UPLOAD)}. Ladda ner exporten igen med bara "
        "”Evenemang” valt, utan bilder."
    )


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise Refusal(
            "file", "Zip-filen är skadad eller ofullständig; ladda ner den igen."
        ) from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise Refusal(
            "file",
            f"Zip-filen innehåller {len(infos)} filer, fler än de {MAX_ZIP_MEMBERS} vi läser. "
            "Ladda ner exporten igen med bara ”Evenemang” valt.",
        )
    if sum(info.file_size for info in infos) > MAX_ZIP_UNPACKED:
        raise Refusal(
            "file",
            f"Zip-filen packas upp till mer än {human_size(MAX_ZIP_UNPACKED)}. Ladda ner "
            "exporten igen med bara ”Evenemang” valt, utan bilder.",
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise Refusal("file", "Zip-filen är krypterad; ladda upp exporten utan lösenord.")
