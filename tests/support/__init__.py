"""Shared helpers for the test suite (real control plane, servers, fixtures)."""
