"""vecgate's own admin API (protos/vecgate/v1/admin.proto): service, stubs, codegen."""
