"""The compiled hot loop: one site, a block of steps, setpoints in, asset responses and balance out.

At each step (powers in MW, ``dt_h`` hours):
  0. flexible compute the controller chose to shed is shed (within its envelope and budget);
  1. generators with a fixed setpoint move towards it (start-up delay, minimum load, ramp limits);
  2. if the grid is out, following generators start and carry the residual load;
  3. the battery follows the residual (charge on surplus, discharge on deficit, or with ``grid_first``
     only on the deficit the grid cannot supply) or its setpoint (a discharge setpoint stops at the
     reserve ``battery_reserve_mwh``, kept for shortfalls and outages),
     within power, SoC, efficiency and self-discharge; a setpoint never creates unserved load or dumping;
  4. before any generator starts or load is shed, the battery stops charging and discharges whatever it
     can (its reserve included) towards what the grid cannot supply;
  5. with the grid up, following generators cover what the grid and battery cannot supply, and start as
     soon as the battery could no longer bridge the shortfall through their start-up;
  6. the grid imports or exports the rest within its limits (and the controller's export cap);
  7. what is still short is shed from flexible compute (cheapest workload first, within each one's
     envelope and remaining deadline budget), and the rest is unserved; what is still surplus curtails
     renewables, then is dumped.
Balance at every step:  pv + wind - curtailed + discharge + sum(gen) + import + sum(shed) + unserved
                      = load + charge + export + dumped.
"""
from __future__ import annotations

import numpy as np
from numba import njit

OFF, STARTING, ON = 0, 1, 2
NEED_TOL_MW = 1e-9  # a shortfall below this does not start a generator


@njit(cache=True)
def _move_generator(desired, cap, pmin, ramp, start_steps, g, state, timer, power):
    """Advance generator ``g`` one step towards ``desired`` MW; return (output MW, started 0/1)."""
    started = 0
    p_prev = power[g]
    if state[g] == STARTING:
        if desired <= 0.0:
            state[g] = OFF
            power[g] = 0.0
            return 0.0, 0
        timer[g] -= 1
        if timer[g] > 0:
            power[g] = 0.0
            return 0.0, 0
        state[g] = ON
        p_prev = pmin  # synchronised at minimum load
    elif state[g] == OFF:
        if desired <= 0.0:
            power[g] = 0.0
            return 0.0, 0
        started = 1
        if start_steps > 0:
            state[g] = STARTING
            timer[g] = start_steps
            power[g] = 0.0
            return 0.0, 1
        state[g] = ON
        p_prev = pmin
    # on
    if desired > 0.0:
        lo = max(pmin, p_prev - ramp)
        hi = min(cap, p_prev + ramp)
        p = min(max(max(desired, pmin), lo), hi)
    elif p_prev - ramp <= pmin:
        state[g] = OFF
        p = 0.0
    else:
        p = p_prev - ramp
    power[g] = p
    return p, started


@njit(cache=True)
def _follow_generators(need, t, k, generator_target, generator_params, gen_state, gen_timer, gen_power,
                       gen_out, gen_start):
    """Following generators, in merit order, cover ``need`` MW; return their total output (MW).

    A unit that is starting counts with its full capacity against ``need``, so the next units in merit
    order start only if the starting ones cannot cover it.
    """
    total = 0.0
    for g in range(generator_params.shape[0]):
        if np.isnan(generator_target[g, k]):
            p, s = _move_generator(need if need > NEED_TOL_MW else 0.0, generator_params[g, 0],
                                   generator_params[g, 1], generator_params[g, 2], int(generator_params[g, 3]),
                                   g, gen_state, gen_timer, gen_power)
            gen_out[g, t] = p
            gen_start[g, t] = s
            total += p
            need -= generator_params[g, 0] if gen_state[g] == STARTING else p
    return total


@njit(cache=True)
def run_block(t0, t1, dt_h, load, pv, wind, grid_up, import_limit, export_limit,
              battery_target, battery_grid_first, battery_reserve_mwh, generator_target, battery_params, generator_params,
              shed_target, export_target, flex_mw, soc_state, gen_state, gen_timer, gen_power, flex_budget_mwh,
              curtailed, charge, discharge, soc, gen_out, gen_start, grid_import, grid_export, flex_shed, unserved,
              dumped):
    """Simulate steps ``t0 <= t < t1``; targets are indexed from ``t0``; state arrays are updated in place.

    battery_params: [power_max_mw, eta_charge, eta_discharge, soc_min_mwh, soc_max_mwh, keep_per_step]
    generator_params (G, 4): [capacity_mw, min_load_mw, ramp_mw_per_step, start_steps]
    flex_mw (W, n): sheddable compute per workload (cheapest first); flex_budget_mwh (W,): what each may
    still shed before its deadline is at risk; shed_target (W, block): compute to shed on purpose;
    export_target (block,): the controller's export cap (inf: none).
    """
    p_max = battery_params[0]
    eta_c = battery_params[1]
    eta_d = battery_params[2]
    soc_min = battery_params[3]
    soc_max = battery_params[4]
    keep = battery_params[5]
    n_gen = generator_params.shape[0]
    bridge_h = dt_h  # the energy the battery must hold to bridge the slowest generator start
    for g in range(n_gen):
        bridge_h = max(bridge_h, (generator_params[g, 3] + 1.0) * dt_h)
    e = soc_state[0]
    for t in range(t0, t1):
        k = t - t0
        renew = pv[t] + wind[t]
        planned = 0.0
        for w in range(flex_mw.shape[0]):
            shed = min(shed_target[w, k], flex_mw[w, t], flex_budget_mwh[w] / dt_h)
            if shed > 0.0:
                flex_shed[w, t] = shed
                flex_budget_mwh[w] -= shed * dt_h
                planned += shed
        net = load[t] - renew - planned
        up = grid_up[t]
        imp_cap = import_limit[t] if up else 0.0
        exp_cap = min(export_limit[t], export_target[k]) if up else 0.0
        # 1. generators with fixed setpoints
        for g in range(n_gen):
            target = generator_target[g, k]
            if not np.isnan(target):
                p, s = _move_generator(min(target, generator_params[g, 0]), generator_params[g, 0],
                                       generator_params[g, 1], generator_params[g, 2], int(generator_params[g, 3]),
                                       g, gen_state, gen_timer, gen_power)
                gen_out[g, t] = p
                gen_start[g, t] = s
                net -= p
        # 2. when the grid is out, following generators start at once and carry the site (the battery bridges)
        if not up:
            net -= _follow_generators(net, t, k, generator_target, generator_params, gen_state, gen_timer, gen_power,
                                      gen_out, gen_start)
        grid_short = max(0.0, net - imp_cap) if up else 0.0
        # 3. battery
        ch = 0.0
        dis = 0.0
        e = e * keep
        e_kept = e
        max_dis = 0.0
        if p_max > 0.0:
            max_ch = min(p_max, max(0.0, soc_max - e) / (eta_c * dt_h))
            max_dis = min(p_max, max(0.0, e - soc_min) * eta_d / dt_h)
            bt = battery_target[k]
            if np.isnan(bt):
                if net < 0.0:
                    ch = min(-net, max_ch)
                elif net > 0.0:
                    dis = min(net - imp_cap if battery_grid_first[k] else net, max_dis)
                    dis = max(dis, 0.0)
            elif bt < 0.0:
                ch = min(-bt, max_ch, max(0.0, imp_cap - net))
            elif bt > 0.0:
                above_reserve = max(0.0, e - max(soc_min, battery_reserve_mwh)) * eta_d / dt_h
                dis = min(bt, max_dis, above_reserve, max(0.0, net + exp_cap))
        # 4. before any generator starts or load is shed, the battery stops charging and discharges what it can
        short = net + ch - dis - imp_cap
        if short > 0.0 and p_max > 0.0:
            r = min(short, ch)
            ch -= r
            dis += min(short - r, max_dis - dis)
        net += ch - dis
        if p_max > 0.0:
            e = e_kept + (ch * eta_c - dis / eta_d) * dt_h
            if e > soc_max:  # rounding guard
                e = soc_max
        charge[t] = ch
        discharge[t] = dis
        soc[t] = e
        # 5. with the grid up, following generators cover what the grid and battery cannot, and take over the
        #    whole shortfall once the battery could no longer bridge it through a generator start-up
        if up:
            need = net - imp_cap
            if grid_short > NEED_TOL_MW and max(0.0, e - soc_min) * eta_d < grid_short * bridge_h:
                need = max(need, grid_short)
            net -= _follow_generators(need, t, k, generator_target, generator_params, gen_state, gen_timer,
                                      gen_power, gen_out, gen_start)
        # 6. grid
        imp = 0.0
        exp = 0.0
        if net > 0.0:
            imp = min(net, imp_cap)
            net -= imp
        elif net < 0.0:
            exp = min(-net, exp_cap)
            net += exp
        grid_import[t] = imp
        grid_export[t] = exp
        # 7. what is left
        uns = 0.0
        cur = 0.0
        dump = 0.0
        for w in range(flex_mw.shape[0]):
            if net <= 0.0:
                break
            shed = min(net, flex_mw[w, t] - flex_shed[w, t], flex_budget_mwh[w] / dt_h)
            if shed > 0.0:
                flex_shed[w, t] += shed
                flex_budget_mwh[w] -= shed * dt_h
                net -= shed
        if net > 0.0:
            uns = net
        elif net < 0.0:
            cur = min(-net, renew)
            dump = -net - cur
        unserved[t] = uns
        curtailed[t] = cur
        dumped[t] = dump
    soc_state[0] = e
