// Package main connects to the reporting database (fixture: a seeded fake credential).
package main

import "fmt"

func main() {
	dbPassword := "q7Vd9LmX2rTz8KwP4sNb"
	fmt.Println(len(dbPassword))
}
