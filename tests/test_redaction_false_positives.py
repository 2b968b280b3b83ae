"""Ordinary marketing text comes out unchanged: the mock writer's drafts over many briefs."""

from __future__ import annotations

import itertools

import pytest

from neonhub_nb.agents.content import write_article
from neonhub_nb.llm import write_reply
from neonhub_nb.redact import Redactor, StreamRedactor

from .secrets_corpus import CORPUS_ENV

# Briefs chosen to make the writer use the words the rules look for.
BRIEFS = [
    {"topic": "Email marketing for local bakeries", "primary_keyword": "bakery newsletter",
     "tone": "friendly", "audience": "small bakery owners", "word_count": 600},
    {"topic": "The secret to API key rotation for SaaS teams",
     "primary_keyword": "api key rotation", "tone": "technical", "audience": "CTOs",
     "word_count": 1200},
    {"topic": "Basic SEO: tokens, passwords and authorization explained",
     "primary_keyword": "basic seo", "tone": "playful", "audience": "marketers", "word_count": 900},
    {"topic": "Growing on TikTok and Instagram in Asia", "primary_keyword": "tiktok growth",
     "tone": "bold", "audience": "creators", "word_count": 1500},
    {"topic": "Bearer bonds, access keys and private key management",
     "primary_keyword": "key management", "tone": "professional", "audience": "finance teams",
     "word_count": 800},
    {"topic": "Webhooks, cookies and signatures for Shopify stores",
     "primary_keyword": "shopify webhooks", "tone": "friendly", "audience": "store owners",
     "word_count": 700},
]  # fmt: skip
SEEDS = range(8)
DRAFTS = [write_article(b, s) for b, s in itertools.product(BRIEFS, SEEDS)]
DRAFTS += [write_reply(b, s) for b, s in itertools.product(BRIEFS, range(3))]


@pytest.mark.parametrize("redactor", [Redactor(), Redactor.from_environ(CORPUS_ENV)])
def test_drafts_come_out_unchanged(redactor: Redactor) -> None:
    changed = [d for d in DRAFTS if redactor.text(d) != d]
    assert changed == []
    assert sum(len(d.split()) for d in DRAFTS) > 30_000  # the corpus is not trivially small


def test_drafts_stream_through_unchanged() -> None:
    redactor = Redactor()
    for draft in DRAFTS[::5]:
        stream = StreamRedactor(redactor)
        words = draft.split(" ")
        out = "".join(stream.feed(w + " ") for w in words[:-1]) + stream.feed(words[-1])
        assert out + stream.flush() == draft
