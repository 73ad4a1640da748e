// Package main (fixture: a seeded fake credential with an inline suppression on its line).
package main

func main() {
	dbPassword := "hGAkWvj7FAc9QeWJKY40" // vigil:ignore SEC-012 throwaway password of the local test database
	println(len(dbPassword))
}
