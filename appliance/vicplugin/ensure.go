package vicplugin

import (
	"context"
	"time"
)

// EnableTimeout is how long the engine waits for the plugin's socket when it enables it: the
// drivers serve once they have read the VCH from vSphere.
const EnableTimeout = 90 * time.Second

// Ensure brings the engine's plugin want.Name to want, telling say the step it takes and why,
// and returns the plugin as the engine then reports it. A failed step is returned; running
// Ensure again goes on from what the engine then holds.
func Ensure(ctx context.Context, e *Engine, want Want, say func(step Step, why string)) (*Installed, error) {
	inst, err := e.Inspect(ctx, want.Name)
	if err != nil {
		return nil, err
	}
	step, why := Decide(inst, want)
	if step == Keep {
		return inst, nil
	}
	say(step, why)
	if (step == Reconfigure || step == Replace) && inst.Enabled {
		if err := e.Disable(ctx, want.Name); err != nil {
			return nil, err
		}
	}
	if step == Replace {
		if err := e.Remove(ctx, want.Name); err != nil {
			return nil, err
		}
	}
	if step == Replace || step == Install {
		if err := e.Create(ctx, want.Name, want.Dir); err != nil {
			return nil, err
		}
	}
	if step != Enable {
		if err := e.Set(ctx, want.Name, want.Settings); err != nil {
			return nil, err
		}
	}
	if err := e.Enable(ctx, want.Name, EnableTimeout); err != nil {
		return nil, err
	}
	return e.Inspect(ctx, want.Name)
}

// Restart disables and enables the plugin again: for one the engine reports enabled but whose
// socket never came (the engine enabled it at its start, before the plugin could serve).
func Restart(ctx context.Context, e *Engine, name string) error {
	if err := e.Disable(ctx, name); err != nil {
		return err
	}
	return e.Enable(ctx, name, EnableTimeout)
}
