"""The rule language, case by case: one commented row per construct or trap.

Each row: (query, title, body, expected). ``body`` goes into the summary unless
it starts with "content:" (then into content). Entities are declared in ENTITIES.
"""

from __future__ import annotations

import dataclasses

import pytest

from monitor.article import Article, Hit, Match, RuleSpec
from monitor.errors import ConfigError
from monitor.rules import evidence
from monitor.rules.compile import compile_rules
from monitor.rules.snippet import make_snippet

ENTITIES = {
    "Zoom": ["Zoom", "Zoom Video Communications", "Zoom Video"],
    "China": ["China", "mainland China", "PRC", "People's Republic of China", "Beijing"],
    "TikTok": ["TikTok", "ByteDance", "Douyin"],
    "Apple": ["Apple", "apple inc"],  # second alias all-lowercase: any case
    "Chinese": ["中国", "北京"],
    "Lower": ["wechat"],  # all-lowercase alias: any case
}


def article(title: str, body: str = "", **extra: object) -> Article:
    content = ""
    if body.startswith("content:"):
        content, body = body[len("content:"):], ""
    fields = dict(feed_url="https://ex.com/feed", feed_name="Example", feed_tags=("tech",),
                  key="k", guid=None, link="https://ex.com/a/1", canonical_url=None,
                  title=title, summary=body, content=content)
    fields.update(extra)
    return Article(**fields)  # type: ignore[arg-type]


def matches(query: str, art: Article) -> bool:
    rules = compile_rules([RuleSpec("r", query)], ENTITIES)
    return bool(rules.match(art))


CASES = [
    # --- bare terms: whole words, any case ---
    ("ban", "Senate votes ban", "", True),  # plain word
    ("ban", "BAN on imports", "", True),  # upper case
    ("ban", "Ban upheld", "", True),  # capitalised
    ("ban", "A ban.", "", True),  # followed by a full stop
    ("ban", "ban, then more", "", True),  # followed by a comma
    ("ban", "(ban)", "", True),  # in parentheses
    ("ban", "\"ban\"", "", True),  # in quotes
    ("ban", "banana split", "", False),  # trap: longer word
    ("ban", "urban sprawl", "", False),  # trap: word ending in ban
    ("ban", "Bangkok news", "", False),  # trap: word starting with Ban
    ("ban", "bans are coming", "", False),  # plural is another word (use ban*)
    ("ban", "ban_list", "", True),  # underscore is not a letter: separates words
    ("ban", "ban2", "", False),  # digits are word characters
    ("ban", "the ban's scope", "", True),  # possessive: apostrophe ends a word
    ("ban", "the ban’s scope", "", True),  # typographic apostrophe too
    ("ban", "anti-ban protest", "", True),  # hyphen separates words
    ("ban", "", "content:full text mentions a ban here", True),  # content searched by default
    ("ban", "", "summary mentions a ban", True),  # summary searched by default
    ("ban", "nothing here", "nor here", False),  # absent
    ("zurich", "Zürich talks", "", True),  # accent-insensitive
    ("Zürich", "ZURICH TALKS", "", True),  # accented query, plain text
    ("cafe", "Un CAFÉ", "", True),  # accent + upper case
    ("café", "cafe culture", "", True),  # accented query matches plain
    ("cafe", "cafe\u0301 culture", "", True),  # combining accent in text
    ("strasse", "Große Straße", "", True),  # casefold ß -> ss
    ("office", "the o\ufb03ce", "", True),  # NFKC ligature ffi
    ("ban", "ｂａｎ fullwidth", "", True),  # NFKC fullwidth letters
    ("naive", "naïve approach", "", True),  # diaeresis folded
    ("u.s.", "U.S. sanctions", "", True),  # punctuation inside a term
    ("u.s.", "US sanctions", "", False),  # ... is required
    ("AT&T", "AT&T merger", "", True),  # ampersand inside a term
    ("2024", "the 2024 election", "", True),  # numbers are words
    ("2024", "the 20245 code", "", False),  # whole number only
    ("covid-19", "COVID-19 cases", "", True),  # hyphenated bare term
    ("covid-19", "covid 19 cases", "", True),  # hyphen = space
    ("covid-19", "covid19 cases", "", False),  # but not nothing
    ("email", "e-mail address", "", False),  # split word is two words
    ("and", "salt and pepper", "", True),  # lower-case and is a word, not an operator
    ("or", "this or that", "", True),  # lower-case or is a word
    ("not", "do not enter", "", True),  # lower-case not is a word
    ("zoom's", "Zoom's results", "", True),  # possessive term matches as written
    ("zoom's", "Zoom’s results", "", True),  # typographic apostrophe folded
    ("ban", "ban\u00adana", "", False),  # soft hyphen inside a word is invisible
    ("ban", "ban\u200bnews", "", True),  # zero-width space separates
    ("ban", "ban\nnews", "", True),  # line break separates
    # --- phrases ---
    ('"partner-only"', "a partner-only model", "", True),  # as written
    ('"partner-only"', "a partner only model", "", True),  # space instead of hyphen
    ('"partner-only"', "a Partner–Only model", "", True),  # en dash and capitals
    ('"partner-only"', "a partner—only model", "", True),  # em dash
    ('"partner-only"', "a partner\nonly model", "", True),  # line break
    ('"partner-only"', "a partner - only model", "", True),  # spaced hyphen
    ('"partner-only"', "a partner  \t only model", "", True),  # run of whitespace
    ('"partner-only"', "a partnership model", "", False),  # trap: longer word
    ('"partner-only"', "partner, only", "", False),  # comma breaks a phrase
    ('"partner-only"', "only partner", "", False),  # order matters in a phrase
    ('"partner only"', "a partner-only model", "", True),  # spaced phrase matches hyphen
    ('"partner only"', "a partner-onlyness", "", False),  # whole words at the end too
    ('"mainland china"', "in mainland\nChina", "", True),  # across a line break
    ('"mainland china"', "in mainland, China", "", False),  # comma breaks it
    ('"mainland china"', "the mainland of China", "", False),  # extra word breaks it
    ('"new york"', "NEW YORK", "", True),  # case-insensitive
    ('"new york"', "New Yorker", "", False),  # whole word at the end
    ('"new york"', "renew york", "", False),  # whole word at the start
    ('"stop selling"', "Zoom will stop selling", "", True),  # mid-sentence
    ('"ban"', "a ban", "", True),  # one-word phrase = the word
    ('"ban"', "banana", "", False),  # still whole word
    ('"people\'s republic"', "People’s Republic", "", True),  # apostrophe forms folded
    ('"zürich airport"', "Zurich Airport", "", True),  # accents in a phrase
    # --- wildcards ---
    ("ban*", "bans", "", True),  # plural
    ("ban*", "banned", "", True),  # past tense
    ("ban*", "ban", "", True),  # the stem itself
    ("ban*", "Banana", "", True),  # a prefix is a prefix
    ("ban*", "urban", "", False),  # must start the word
    ("ban*", "the BANNING of", "", True),  # case-insensitive
    ("ban*", "an unbanned app", "", False),  # not inside a word
    ("ban*", "ba", "", False),  # shorter than the stem
    ("tik*", "TikTok's", "", True),  # prefix of a word with a possessive
    ("regul*", "new regulations", "", True),  # longer stem
    ("regul*", "deregulation", "", False),  # not mid-word
    ("zur*", "Zürich", "", True),  # accents folded before the prefix test
    ("partner*", "partnership", "", True),  # wildcard reaches what the phrase does not
    ("ban* AND tiktok", "bans TikTok", "", True),  # wildcard in AND
    # --- boolean operators ---
    ("ban AND tiktok", "ban on TikTok", "", True),  # both present
    ("ban AND tiktok", "ban on WeChat", "", False),  # one missing
    ("ban tiktok", "ban on TikTok", "", True),  # implicit AND
    ("ban tiktok", "TikTok only", "", False),  # implicit AND needs both
    ("ban OR tiktok", "TikTok only", "", True),  # either
    ("ban OR tiktok", "nothing", "", False),  # neither
    ("ban AND NOT tiktok", "a ban", "", True),  # NOT excludes absent term
    ("ban AND NOT tiktok", "ban TikTok", "", False),  # NOT excludes present term
    ("ban -tiktok", "ban TikTok", "", False),  # - shorthand for NOT
    ("ban -tiktok", "ban WeChat", "", True),  # - shorthand, absent term
    ("ban NOT tiktok", "ban WeChat", "", True),  # implicit AND with NOT
    ("ban OR tiktok AND wechat", "ban", "", True),  # AND binds tighter than OR
    ("ban OR tiktok AND wechat", "tiktok", "", False),  # ... so tiktok alone is not enough
    ("ban OR tiktok AND wechat", "tiktok wechat", "", True),  # ... but with wechat it is
    ("(ban OR tiktok) AND wechat", "ban", "", False),  # parentheses override
    ("(ban OR tiktok) AND wechat", "ban wechat", "", True),  # parentheses override
    ("NOT ban AND tiktok", "tiktok", "", True),  # NOT binds tighter than AND
    ("NOT ban AND tiktok", "ban tiktok", "", False),  # NOT binds tighter than AND
    ("NOT (ban OR bans) tiktok", "bans tiktok", "", False),  # NOT of a group
    ("NOT (ban OR bans) tiktok", "tiktok", "", True),  # NOT of a group, absent
    ("a1 b1 c1", "c1 b1 a1", "", True),  # AND is order-free
    ("a1 OR b1 OR c1", "x c1", "", True),  # n-ary OR
    ("((a1))", "a1", "", True),  # redundant parentheses
    ("a1 AND (b1 OR (c1 AND d1))", "a1 c1 d1", "", True),  # nesting
    ("a1 AND (b1 OR (c1 AND d1))", "a1 c1", "", False),  # nesting, inner AND fails
    ("ban AND NOT NOT tiktok", "ban tiktok", "", True),  # double negation
    ("ban AND NOT title:opinion", "Opinion: ban it", "", False),  # NOT of a field term
    ("ban AND NOT title:opinion", "Ban it", "opinion", True),  # ... only in the title
    # --- NEAR/n: at most n words between the two hits, either order ---
    ("ban NEAR/0 tiktok", "ban tiktok", "", True),  # NEAR/0: adjacent
    ("ban NEAR/0 tiktok", "ban the tiktok", "", False),  # NEAR/0: one word between
    ("ban NEAR/2 tiktok", "ban the app tiktok", "", True),  # exactly n=2 words between
    ("ban NEAR/2 tiktok", "ban the new app tiktok", "", False),  # n+1 = 3 words between
    ("ban NEAR/2 tiktok", "tiktok, the app ban", "", True),  # reverse order, n words
    ("ban NEAR/2 tiktok", "tiktok is a new ban", "", False),  # reverse order, n+1 words
    ("ban NEAR/5 tiktok", "ban w1 w2 w3 w4 w5 tiktok", "", True),  # exactly 5 between
    ("ban NEAR/5 tiktok", "ban w1 w2 w3 w4 w5 w6 tiktok", "", False),  # 6 between
    ("ban NEAR/1 tiktok", "ban, tiktok", "", True),  # punctuation is not a word
    ("ban NEAR/1 tiktok", "ban's tiktok", "", True),  # 's counts as one word
    ("ban NEAR/0 tiktok", "ban's tiktok", "", False),  # ... so NEAR/0 fails
    ("ban NEAR/1 tiktok", "ban\n\ntiktok", "", True),  # line breaks are not words
    ("ban NEAR/3 tiktok", "ban", "content:tiktok", False),  # different fields never near
    ("ban NEAR/3 tiktok", "tiktok", "ban", False),  # title and summary are separate
    ("ban* NEAR/1 tiktok", "banned by tiktok", "", True),  # wildcard side
    ('"app store" NEAR/1 ban', "ban in app store", "", True),  # phrase side, n words
    ('"app store" NEAR/1 ban', "ban in the app store", "", False),  # phrase side, n+1
    ("@TikTok NEAR/2 ban", "ByteDance faces a ban", "", True),  # entity side
    ("ban NEAR/2 (tiktok OR wechat)", "ban of wechat", "", True),  # OR group side
    ("ban NEAR/2 (tiktok OR wechat)", "ban of all the wechat", "", False),  # OR group, too far
    ("ban NEAR/3 tiktok AND wechat", "ban tiktok; far far far wechat", "", True),  # NEAR > AND
    ("ban NEAR/3 tiktok AND wechat", "ban tiktok", "", False),  # AND still needed
    ("ban NEAR/1 bans", "bans", "", False),  # overlapping hits are not near each other
    ("ban* NEAR/2 bans", "bans", "", False),  # same word cannot be both sides
    ("ban* NEAR/2 bans", "bans and bans", "", True),  # two distinct words
    ("title:ban NEAR/2 tiktok", "ban tiktok", "", True),  # field-restricted side in title
    ("title:ban NEAR/2 tiktok", "x", "ban tiktok", False),  # restricted side absent from title
    ("NOT wechat AND ban NEAR/1 tiktok", "ban tiktok", "", True),  # NOT with NEAR
    ("中国 NEAR/1 市场", "中国的市场", "", True),  # CJK: each character is a word
    ("中国 NEAR/0 市场", "中国的市场", "", False),  # ... one character between
    # --- fields ---
    ("title:ban", "ban", "", True),  # in title
    ("title:ban", "nothing", "ban", False),  # only in summary
    ("summary:ban", "nothing", "a ban", True),  # summary field
    ("content:ban", "nothing", "content:ban here", True),  # content field
    ("content:ban", "ban", "", False),  # title is not content
    ("title:(ban OR bans)", "bans", "", True),  # field on a group
    ("title:(ban OR bans)", "x", "bans", False),  # field on a group, not in title
    ('title:"partner-only"', "Partner-Only move", "", True),  # field on a phrase
    ("title:ban*", "Bans", "", True),  # field on a wildcard
    ("title:@China", "PRC move", "", True),  # field on an entity
    ("Title:ban", "ban", "", True),  # field names are case-insensitive
    ("title:(ban AND tiktok)", "ban", "tiktok", False),  # both must be in the title
    ("title:(ban AND tiktok)", "ban tiktok", "", True),  # both in the title
    ("title:ban summary:tiktok", "ban", "tiktok", True),  # two fields
    ("feed:example", "x", "", True),  # feed name field
    ("feed:other", "x", "", False),  # feed name field, no match
    ("tag:tech", "x", "", True),  # feed tag field
    ("tag:sports", "x", "", False),  # feed tag field, no match
    ("url:ex", "x", "", True),  # url field splits on punctuation
    ('url:"ex.com/a"', "x", "", True),  # url phrase
    ("example", "x", "", False),  # feed name is not searched by default
    ("author:smith", "x", "", True),  # author field (see article extra below)
    ("category:politics", "x", "", True),  # category field
    ("smith", "x", "", False),  # authors are not a default field
    # --- entities ---
    ("@Zoom", "Zoom shifts model", "", True),  # alias as written
    ("@Zoom", "ZOOM SHIFTS MODEL", "", True),  # alias in all caps
    ("@Zoom", "Let's zoom in", "", False),  # trap: lower case is not the company
    ("@Zoom", "A ZOOM-in", "", True),  # all caps counts even if generic
    ("@Zoom", "Zoom's results", "", True),  # possessive
    ("@Zoom", "Zoom’s results", "", True),  # typographic possessive
    ("@Zoom", "Zoomed in", "", False),  # whole word
    ("@Zoom", "zOOM", "", False),  # mixed case is neither form
    ("@Zoom", "Zoom Video Communications Inc", "", True),  # longer alias
    ("@Zoom", "zoom video communications", "", False),  # longer alias, lower case
    ("@China", "in mainland\nChina", "", True),  # alias phrase across line break
    ("@China", "in Mainland China", "", True),  # "mainland China" fails on case, "China" fires
    ("@China", "the PRC said", "", True),  # acronym alias
    ("@China", "the prc said", "", False),  # acronym lower case
    ("@China", "People’s Republic of China", "", True),  # apostrophe forms
    ("@China", "ByteDance’s owners in Beijing", "", True),  # another alias
    ("@China", "china plates", "", False),  # generic word china, lower case
    ("@China", "CHINA", "", True),  # all caps
    ("@China", "Chinese", "", False),  # whole word
    ("@TikTok", "ByteDance’s app", "", True),  # possessive with typographic apostrophe
    ("@TikTok", "Douyin", "", True),  # another alias
    ("@TikTok", "Tiktok", "", False),  # wrong capitalisation
    ("@Apple", "apple inc results", "", True),  # lower-case alias matches any case
    ("@Apple", "Apple Inc results", "", True),  # lower-case alias, capitals in text
    ("@Apple", "apple pie", "", False),  # capitalised alias Apple, lower-case text
    ("@apple", "Apple", "", True),  # entity names resolve case-insensitively
    ("@Lower", "WeChat Pay", "", True),  # lower-case alias, any case
    ("@Zoom AND @China", "Zoom leaves mainland China", "", True),  # two entities
    ("@Zoom AND @China", "Zoom in on china", "", False),  # two entities, traps
    ('"partner-only" AND @China', "partner-only model in PRC", "", True),  # DESIGN example
    ("@Chinese", "在中国市场", "", True),  # CJK alias inside unspaced text
    # --- CJK: substring matching ---
    ("中国", "在中国市场", "", True),  # Chinese term inside a sentence
    ("中国", "中国", "", True),  # alone
    ("中国", "在中市场国", "", False),  # characters not adjacent
    ("東京", "東京都の知事", "", True),  # Japanese kanji
    ("とうきょう", "とうきょうへ行く", "", True),  # Japanese hiragana
    ("中国市场", "中国 市场", "", False),  # a space in the text breaks a CJK substring
    ("china", "中国China", "", True),  # latin word right after CJK
    ("tiktok", "抖音TikTok应用", "", True),  # latin word inside CJK text
    # --- regex escape hatch (runs on folded text) ---
    ("/cov(id)?.?19/", "COVID-19 update", "", True),  # folded: covid 19
    ("/cov(id)?.?19/", "covid19", "", True),  # no separator
    ("/cov(id)?.?19/", "coronavirus", "", False),  # absent
    (r"/\d{3} million/", "a 500 million fine", "", True),  # digits
    (r"/\d{3} million/", "a 50 million fine", "", False),  # only two digits
    ("/zoom/", "ZOOM", "", True),  # IGNORECASE, and text is folded
    ("/zurich/", "Zürich", "", True),  # accents folded before the regex
    ("/ban/", "urban", "", True),  # regexes are not whole-word
    (r"/\bban\b/", "urban", "", False),  # ... unless you say so
    ("title:/ban/", "x", "ban", False),  # field restriction on a regex
    ("/ban/ AND tiktok", "ban tiktok", "", True),  # regex in a combination
    ("ban NEAR/1 /tik.{0,3}/", "ban on tiktok", "", True),  # regex NEAR side
]

# The author/category rows need those fields filled in.
EXTRA = {"author:smith": dict(authors=("Jane Smith",)), "category:politics":
         dict(categories=("World", "Politics")), "smith": dict(authors=("Jane Smith",))}


@pytest.mark.parametrize(("query", "title", "body", "expected"), CASES)
def test_case(query: str, title: str, body: str, expected: bool) -> None:
    art = article(title, body, **EXTRA.get(query, {}))
    assert matches(query, art) is expected


def test_case_table_is_large() -> None:
    assert len(CASES) >= 200


# --- evidence: terms, fields, offsets into the ORIGINAL text, snippets ---------------


def only_match(query: str, art: Article, entities: dict[str, list[str]] | None = None) -> Match:
    found = compile_rules([RuleSpec("r", query)], entities or ENTITIES).match(art)
    assert len(found) == 1
    return found[0]


def test_hits_point_into_the_original_text() -> None:
    art = article("Zoom’s move", "Zürich: a Partner–Only model\nin mainland\nChina.")
    m = only_match('"partner-only" AND @China AND zurich AND @Zoom', art)
    for h in m.hits:
        assert art.field_text(h.field)[h.start:h.end] == h.text
    assert [(h.term, h.field, h.text) for h in m.hits] == [
        ("@Zoom", "title", "Zoom"),
        ("zurich", "summary", "Zürich"),
        ('"partner-only"', "summary", "Partner–Only"),
        ("@China", "summary", "mainland\nChina"),  # the inner "China" hit is folded in
    ]
    assert m.terms == ("@Zoom", "zurich", '"partner-only"', "@China")


def test_offsets_survive_expanding_and_vanishing_characters() -> None:
    # ß folds to two letters, the combining accent to none: offsets must still land.
    text = "Große Straße, cafe\u0301 ban"
    m = only_match("ban AND cafe AND strasse", article(text))
    assert {h.term: h.text for h in m.hits} == {"strasse": "Straße", "cafe": "cafe\u0301",
                                                "ban": "ban"}


def test_wildcard_hit_covers_the_whole_word() -> None:
    m = only_match("ban*", article("They banned it"))
    assert (m.hits[0].start, m.hits[0].end, m.hits[0].text) == (5, 11, "banned")


def test_not_terms_are_not_evidence() -> None:
    m = only_match("ban AND NOT tiktok OR wechat", article("ban and wechat"))
    assert m.terms == ("ban", "wechat")


def test_near_evidence_lists_only_the_near_pair() -> None:
    m = only_match("ban NEAR/1 tiktok", article("ban far far far tiktok far far ban tiktok"))
    assert [(h.term, h.start) for h in m.hits] == [("ban", 31), ("tiktok", 35)]


def test_snippet_marks_hits_around_the_first_one() -> None:
    body = ("Lorem ipsum dolor sit amet. " * 12) + "Then a ban on TikTok\nwas signed. " + (
        "More filler text here. " * 12)
    m = only_match("ban AND tiktok", article("Nothing", body))
    assert "«ban» on «TikTok» was signed" in m.snippet
    assert m.snippet.startswith("…") and m.snippet.endswith("…")
    assert 150 <= len(m.snippet) <= 230


def test_make_snippet_short_text_and_overlaps() -> None:
    assert make_snippet("a ban here", [(2, 5), (2, 5), (3, 5)]) == "a «ban» here"
    assert make_snippet("", [(0, 1)]) == ""
    assert make_snippet("no hits at all", []) == "no hits at all"


def test_regex_evidence() -> None:
    m = only_match("/cov(id)?.?19/", article("New COVID-19 rules"))
    assert (m.hits[0].term, m.hits[0].text) == ("/cov(id)?.?19/", "COVID-19")


# --- rule sets: scoping, names, unindexed rules, errors ---------------------------------


def test_scoping_by_feed_name_url_and_tag() -> None:
    rules = compile_rules([
        RuleSpec("all", "ban"),
        RuleSpec("by-name", "ban", feeds=("Example",)),
        RuleSpec("by-url", "ban", feeds=("https://ex.com/feed",)),
        RuleSpec("other-feed", "ban", feeds=("Other",)),
        RuleSpec("by-tag", "ban", tags=("tech", "x")),
        RuleSpec("other-tag", "ban", tags=("sports",)),
    ], ENTITIES)
    names = [m.rule for m in rules.match(article("a ban"))]
    assert names == ["all", "by-name", "by-url", "by-tag"]
    assert rules.rule_names == ("all", "by-name", "by-url", "other-feed", "by-tag", "other-tag")


def test_unindexed_rules_are_listed_and_still_evaluated() -> None:
    rules = compile_rules([RuleSpec("re", r"/\d{3} [a-z]{2,}/"), RuleSpec("t", "ban"),
                           RuleSpec("mixed", "ban OR /x{2}/"),
                           RuleSpec("indexed", r"/\d{3} million/")], ENTITIES)
    assert rules.unindexed_rules == ("re", "mixed")
    assert [m.rule for m in rules.match(article("a 500 million fine"))] == ["re", "indexed"]


def test_compile_rules_lists_every_bad_rule() -> None:
    with pytest.raises(ConfigError) as info:
        compile_rules([RuleSpec("ok", "ban"), RuleSpec("app-bans", "ban* NEAR/5 AND tiktok"),
                       RuleSpec("neg", "NOT x"), RuleSpec("ok", "dup")], ENTITIES)
    assert info.value.problems == [
        "rule 'app-bans': query column 6: NEAR needs a term on both sides "
        "(a word, phrase, wildcard, entity or an OR of those)",
        "rule 'neg': query column 1: the rule needs a positive term: NOT alone would match "
        "almost every article (write: a AND NOT b)",
        "rule 'ok': duplicate rule name",
    ]


def test_many_rules_share_literals_and_match_in_rule_order() -> None:
    specs = [RuleSpec(f"r{i}", q) for i, q in enumerate(["ban", "ban*", '"ban"', "@TikTok",
                                                           "ban AND tiktok", "tiktok"])]
    rules = compile_rules(specs, ENTITIES)
    assert [m.rule for m in rules.match(article("TikTok ban"))] == [s.name for s in specs]
    assert rules.match(article("nothing")) == []


def test_empty_rule_set_matches_nothing() -> None:
    assert compile_rules([], ENTITIES).match(article("ban")) == []


# --- HTML never matches: the feed parser turns it into text before matching -----------

HTML = ('<p class="ban">Zoom <a href="https://x.com/ban" title="ban">moves</a> &amp; '
        "<!-- ban --> grows<script>ban()</script><style>.ban{}</style></p><p>partner-<br>only</p>")


@pytest.mark.parametrize(("query", "expected"), [
    ("ban", False),  # only in attributes, a comment, a script and a style
    ("amp", False),  # an entity is decoded, not matched as a word
    ("p OR href OR script OR class", False),  # tag and attribute names
    ("zoom AND moves AND grows", True),  # the visible text still matches
    ('"partner-only"', True),  # a <br> inside a phrase is a line break
])
def test_html_tags_and_attributes_never_match(query: str, expected: bool) -> None:
    from monitor.feeds.parse import html_to_text  # the real pipeline step

    assert matches(query, article("x", "content:" + html_to_text(HTML))) is expected


def test_evidence_objects_are_the_dataclasses_they_stand_for() -> None:
    """The matcher fills Hits and Matches without their __init__: still equal, hashable
    and frozen, and a field added to either type breaks this test, not the matcher."""
    hit = evidence._hit_of("ban", "title", 2, 5, "ban")
    match = evidence._match("r", (hit,), "a «ban»")
    assert [f.name for f in dataclasses.fields(Hit)] == ["term", "field", "start", "end", "text"]
    assert [f.name for f in dataclasses.fields(Match)] == ["rule", "hits", "snippet"]
    assert hit == Hit("ban", "title", 2, 5, "ban")
    assert hash(hit) == hash(Hit("ban", "title", 2, 5, "ban"))
    assert match == Match("r", (Hit("ban", "title", 2, 5, "ban"),), "a «ban»")
    assert repr(match) == repr(Match("r", (hit,), "a «ban»"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.rule = "other"  # type: ignore[misc]


def test_matched_objects_are_filled_as_their_constructors_fill_them() -> None:
    """``matches_for`` and the one-hit path fill Match and Hit dicts inline: the same
    fields, in field order, equal to (and as hashable as) the constructors' objects."""
    specs = [RuleSpec("one", "ban"), RuleSpec("two", "ban AND tiktok"),
             RuleSpec("ent", "@TikTok"), RuleSpec("again", "ban")]
    art = article("TikTok ban", "A ban on tiktok")
    for m in compile_rules(specs, ENTITIES).match(art):
        hits = tuple(Hit(h.term, h.field, h.start, h.end, h.text) for h in m.hits)
        built = Match(m.rule, hits, m.snippet)
        assert m == built and hash(m) == hash(built)
        assert list(vars(m)) == list(vars(built))
        assert [list(vars(h)) for h in m.hits] == [list(vars(h)) for h in hits]
        assert all(type(h) is Hit for h in m.hits) and type(m) is Match
