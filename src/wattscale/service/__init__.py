"""The wattscale service: REST API for studies, live campuses, the OpenADR 3 VTN and the dashboard."""
