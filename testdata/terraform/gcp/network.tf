resource "google_compute_firewall" "ssh" {
  name          = "allow-ssh"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }
}

resource "google_compute_firewall" "internal" {
  name          = "allow-internal"
  network       = "default"
  source_ranges = ["10.128.0.0/9"]

  allow {
    protocol = "all"
  }
}

resource "google_compute_firewall" "wide" {
  name          = "allow-high-ports"
  network       = "default"
  source_ranges = ["0.0.0.0/0"]

  allow {
    protocol = "udp"
  }

  allow {
    protocol = "tcp"
    ports    = ["1000-4000"]
  }
}

resource "google_storage_bucket" "assets" {
  name     = "example-assets"
  location = "EU"
}
