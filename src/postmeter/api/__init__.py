"""The HTTP API: ``/v1``, its OpenAPI document, and the operational endpoints."""
