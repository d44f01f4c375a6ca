"""Language codes a case may carry: ISO 639-1 two-letter codes, optionally with a region.

`lang:klingon` or `lang:xx` must be refused rather than accepted silently: an advisor is found
by matching members' languages, and a code nobody could list never finds one.
"""

from __future__ import annotations

_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr
    ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw
    ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv
    ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr
    ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi
    yo za zh zu
    """
ISO_639_1 = frozenset(_CODES.split())


def primary(code: str) -> str:
    """The language of a tag: `pt-BR` → `pt`."""
    return code.strip().lower().split("-")[0]


def known_language(code: str) -> bool:
    """An ISO 639-1 code, optionally with a region or script subtag (`ar`, `pt-BR`, `zh-Hant`)."""
    parts = code.strip().split("-")
    if primary(code) not in ISO_639_1:
        return False
    return all(2 <= len(p) <= 4 and p.isalnum() for p in parts[1:])


def spoken(languages: list[str]) -> str:
    """The distinct languages of a team, sorted, for a refusal: `ar, de, en, fr`."""
    codes = sorted({primary(x) for x in languages if x.strip()})
    return ", ".join(codes) or "none listed"
