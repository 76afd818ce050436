package redis

// Waiters is how many Reads of c are waiting in its hub, so that a test
// can tell when its readers are all blocked.
func Waiters(c *Catalog) int {
	c.hub.mu.Lock()
	defer c.hub.mu.Unlock()
	n := 0
	for _, w := range c.hub.watches {
		n += w.refs
	}
	return n
}
