"""One conformance suite for every ERP and QMS connector (parametrised in ``conftest``)."""
