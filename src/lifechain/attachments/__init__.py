"""Files attached to an incident: the pre-hospital ECG (photo or PDF) and other documents."""
