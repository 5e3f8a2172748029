"""The partnership's information sharing agreement as versioned, machine-checked rules."""
