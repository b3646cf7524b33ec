"""Placeholder created by build-infra setup; replace freely."""
