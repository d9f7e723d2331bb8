"""All SQL of the appliance, as plain functions taking a connection first."""
