"""Generated from protos/vecgate/v1/admin.proto."""
