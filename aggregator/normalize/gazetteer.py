"""Gazetteer: place names in the association's area and the municipality each lies in.

Event feeds rarely say which municipality an event is in. They give a venue and, at
best, a locality: "Bygdegården, Lönneberga", "Folkets hus i Fågelfors". The normalizer
looks up the locality names found in an event's location (and, as a weaker hint, its
title and description) in ``LOCALITIES`` to set the event's municipality when the source
does not give one.

Coverage: the six core municipalities (Nässjö, Eksjö, Vimmerby, Hultsfred, Högsby,
Oskarshamn) and the wider area (Aneby, Kinda, Vetlanda, Ydre). Entries are tätorter,
småorter, villages and parish (socken) names that are in everyday use as place names,
plus a few well-known named places (e.g. Skurugata, Blå Jungfrun). Each municipality's
seat maps to its own municipality (Kisa → Kinda, Österbymo → Ydre).

Sources: Statistics Sweden's (SCB) lists of tätorter and småorter by municipality, the
Swedish parish (socken) division, and Lantmäteriet's place names, checked by hand.
Names that are also common Swedish words (e.g. Äng, Hult, Horn, Ruda, Sund, Näs) are
deliberately left out: matching them in free text gives false hits. Names that exist
in several parts of Sweden are only included when the one in this area is the obvious
reading for a local audience.

Keys use the official spelling with å, ä and ö; callers should compare
case-insensitively. Sorted by municipality, then locality (Swedish alphabetical order).
"""

LOCALITIES: dict[str, str] = {
    # Aneby kommun
    "Aneby": "Aneby",
    "Askeryd": "Aneby",
    "Bredestad": "Aneby",
    "Frinnaryd": "Aneby",
    "Haurida": "Aneby",
    "Hullaryd": "Aneby",
    "Lommaryd": "Aneby",
    "Marbäck": "Aneby",
    "Sunhultsbrunn": "Aneby",
    "Vireda": "Aneby",
    # Eksjö kommun
    "Bellö": "Eksjö",
    "Bruzaholm": "Eksjö",
    "Edshult": "Eksjö",
    "Eksjö": "Eksjö",
    "Eksjöhovgård": "Eksjö",
    "Hjältevad": "Eksjö",
    "Hässleby": "Eksjö",
    "Höreda": "Eksjö",
    "Ingatorp": "Eksjö",
    "Kråkshult": "Eksjö",
    "Mariannelund": "Eksjö",
    "Ränneslätt": "Eksjö",
    "Skurugata": "Eksjö",
    "Ykshult": "Eksjö",
    # Hultsfred kommun
    "Gårdveda": "Hultsfred",
    "Hultsfred": "Hultsfred",
    "Järeda": "Hultsfred",
    "Järnforsen": "Hultsfred",
    "Lönneberga": "Hultsfred",
    "Målilla": "Hultsfred",
    "Mörlunda": "Hultsfred",
    "Silverdalen": "Hultsfred",
    "Vena": "Hultsfred",
    "Virserum": "Hultsfred",
    # Högsby kommun
    "Berga": "Högsby",
    "Fagerhult": "Högsby",
    "Fågelfors": "Högsby",
    "Grönskåra": "Högsby",
    "Högsby": "Högsby",
    "Långemåla": "Högsby",
    # Kinda kommun
    "Hycklinge": "Kinda",
    "Hägerstad": "Kinda",
    "Kisa": "Kinda",
    "Kättilstad": "Kinda",
    "Oppeby": "Kinda",
    "Rimforsa": "Kinda",
    "Tidersrum": "Kinda",
    "Västra Eneby": "Kinda",
    # Nässjö kommun
    "Almesåkra": "Nässjö",
    "Anneberg": "Nässjö",
    "Barkeryd": "Nässjö",
    "Bodafors": "Nässjö",
    "Bringetofta": "Nässjö",
    "Flisby": "Nässjö",
    "Forserum": "Nässjö",
    "Fredriksdal": "Nässjö",
    "Grimstorp": "Nässjö",
    "Malmbäck": "Nässjö",
    "Norra Sandsjö": "Nässjö",
    "Norra Solberga": "Nässjö",
    "Nässjö": "Nässjö",
    "Ormaryd": "Nässjö",
    "Sandsjöfors": "Nässjö",
    "Stensjön": "Nässjö",
    # Oskarshamn kommun
    "Blå Jungfrun": "Oskarshamn",
    "Bockara": "Oskarshamn",
    "Döderhult": "Oskarshamn",
    "Figeholm": "Oskarshamn",
    "Fårbo": "Oskarshamn",
    "Kristdala": "Oskarshamn",
    "Misterhult": "Oskarshamn",
    "Oskarshamn": "Oskarshamn",
    "Påskallavik": "Oskarshamn",
    "Simpevarp": "Oskarshamn",
    "Vånevik": "Oskarshamn",
    "Äspö": "Oskarshamn",
    # Vetlanda kommun
    "Alseda": "Vetlanda",
    "Björköby": "Vetlanda",
    "Bäckseda": "Vetlanda",
    "Ekenässjön": "Vetlanda",
    "Holsbybrunn": "Vetlanda",
    "Karlstorp": "Vetlanda",
    "Korsberga": "Vetlanda",
    "Kvillsfors": "Vetlanda",
    "Landsbro": "Vetlanda",
    "Lannaskede": "Vetlanda",
    "Myresjö": "Vetlanda",
    "Nävelsjö": "Vetlanda",
    "Pauliström": "Vetlanda",
    "Ramkvilla": "Vetlanda",
    "Skirö": "Vetlanda",
    "Stenberga": "Vetlanda",
    "Vetlanda": "Vetlanda",
    "Ädelfors": "Vetlanda",
    # Vimmerby kommun
    "Djursdala": "Vimmerby",
    "Frödinge": "Vimmerby",
    "Gibberyd": "Vimmerby",
    "Gullringen": "Vimmerby",
    "Locknevi": "Vimmerby",
    "Pelarne": "Vimmerby",
    "Rumskulla": "Vimmerby",
    "Sevedstorp": "Vimmerby",
    "Storebro": "Vimmerby",
    "Södra Vi": "Vimmerby",
    "Tuna": "Vimmerby",
    "Vimmerby": "Vimmerby",
    # Ydre kommun
    "Asby": "Ydre",
    "Norra Vi": "Ydre",
    "Rydsnäs": "Ydre",
    "Svinhult": "Ydre",
    "Torpa": "Ydre",
    "Västra Ryd": "Ydre",
    "Ydrefors": "Ydre",
    "Österbymo": "Ydre",
}
