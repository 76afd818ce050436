package server

import (
	"testing"
	"testing/synctest"
	"time"
)

// The per-address windows: a limit holds for the address that used it up
// (an IPv6 host's whole /64 with it) and lifts when the window turns.
func TestWindowCounter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWindowCounter(3)
		for range 3 {
			w.add("192.0.2.1")
		}
		if !w.over("192.0.2.1") || w.over("192.0.2.2") {
			t.Fatal("the limit must hold for the counting address only")
		}
		for i := range 3 {
			if !w.take("2001:db8::1") {
				t.Fatalf("take %d refused", i)
			}
		}
		if w.take("2001:db8::2") {
			t.Fatal("another address of the same /64 must share its count")
		}
		if !w.take("2001:db8:0:1::1") {
			t.Fatal("another /64 is another count")
		}
		time.Sleep(limitWindow)
		if w.over("192.0.2.1") || !w.take("2001:db8::2") {
			t.Fatal("the limit must lift after the window")
		}
	})
}

func TestInFlightCounter(t *testing.T) {
	c := newInFlightCounter(2)
	r1, ok1 := c.acquire("192.0.2.1")
	r2, ok2 := c.acquire("::ffff:192.0.2.1") // the same address, mapped
	if !ok1 || !ok2 {
		t.Fatal("two places must be there")
	}
	if _, ok := c.acquire("192.0.2.1"); ok {
		t.Fatal("a third must be refused")
	}
	if _, ok := c.acquire("192.0.2.9"); !ok {
		t.Fatal("another address has its own places")
	}
	r1()
	r1() // twice is once
	if _, ok := c.acquire("192.0.2.1"); !ok {
		t.Fatal("a released place must be free again")
	}
	if _, ok := c.acquire("192.0.2.1"); ok {
		t.Fatal("releasing twice must not free two places")
	}
	r2()
}
