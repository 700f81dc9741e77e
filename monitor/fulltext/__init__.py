"""Full text for teaser feeds: fetch an article's page, extract its main text.

* ``extract``: page bytes -> main text (trafilatura), paywall and not-HTML checks,
  and ``wants_full_text`` (does this item want its page?). Pure.
* ``pages``: the polite page fetcher (robots.txt cached per host, the feed
  fetcher's limits).
* ``runner``: claims pages through the store, runs them beside the poll, matches
  the article again with its text and stores new matches only.
"""
