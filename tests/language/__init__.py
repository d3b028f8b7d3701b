"""Tests of the language: load, validate, prompts, fmt, schema."""
